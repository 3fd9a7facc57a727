#!/usr/bin/env python3
"""https_report.py RUNS OUT SECS REPS LOAD0 LOAD1: turns the JSON lines of
bench/https.sh into bench/results/https.json and the table between the https
markers of bench/README.md (run by bench/run https). Medians over the
interleaved rounds; ratios against nginx, the proxy users run today."""
import datetime, json, os, platform, re, statistics, sys

runs_path, out, secs, reps, load0, load1 = sys.argv[1:7]
runs = [json.loads(l) for l in open(runs_path) if l.strip()]
meta = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "kernel": platform.release(), "cpus": os.cpu_count(),
        "command": f"bench/run https {secs} {reps}",
        "loadavg_before": load0, "loadavg_after": load1}
servers = []
for r in runs:
    if r["server"] not in servers:
        servers.append(r["server"])
med = statistics.median
GB = 1e9


def rows_of(s, case):
    return [r for r in runs if r["server"] == s and r["case"] == case]


table = {}
for s in servers:
    row = {"server": s}
    for proto in ("h2", "h1"):
        bulk = [r for r in rows_of(s, f"{proto}-bulk") if r.get("status") == 200 and r["bytes"] >= 104857600]
        row[f"{proto}_bulk_failed"] = len(rows_of(s, f"{proto}-bulk")) - len(bulk)
        if bulk:
            row[f"{proto}_bulk_mb_s"] = med(r["bytes"] / r["seconds"] / 1e6 for r in bulk)
            row[f"{proto}_bulk_cpu_s_gb"] = med(r["server_cpu_s"] / (r["bytes"] / GB) for r in bulk)
        small = [r for r in rows_of(s, f"{proto}-small") if r.get("ok")]
        row[f"{proto}_small_failed"] = sum(r.get("failed", 0) + r.get("errored", 0) for r in rows_of(s, f"{proto}-small"))
        if small:
            row[f"{proto}_rps"] = med(r["rps"] for r in small)
            row[f"{proto}_cpu_ms_1000"] = med(1000.0 * r["server_cpu_s"] / r["ok"] * 1000 for r in small)
            row[f"{proto}_p50_ms"] = med(r.get("p50_ms", 0) for r in small)
            row[f"{proto}_p99_ms"] = med(r.get("p99_ms", 0) for r in small)
    hs = [r for r in rows_of(s, "handshake") if r.get("ok")]
    if hs:
        row["hs_per_s"] = med(r["ok"] / r["seconds"] for r in hs if r["seconds"])
        row["hs_cpu_ms"] = med(1000.0 * r["server_cpu_s"] / r["ok"] for r in hs)
        row["hs_failed"] = sum(r.get("failed", 0) + r.get("errored", 0) for r in rows_of(s, "handshake"))
    idle = rows_of(s, "idle")
    if idle and idle[0].get("ok"):
        i = idle[0]
        row["idle_ok"] = i["ok"]
        row["idle_kb_per_conn"] = (i["rss_idle_kb"] - i["rss_before_kb"]) * 1024 / i["ok"] / 1000
    table[s] = row

json.dump({"meta": meta, "results": list(table.values()), "runs": runs}, open(out, "w"), indent=1)


def fmt(v, f="{:,.2f}"):
    return f.format(v) if v is not None else "–"


def ratio(s, key, lower_better):
    a, b = table[s].get(key), table.get("nginx", {}).get(key)
    if a is None or not b:
        return ""
    return f" ({a / b:.2f}×)"


lines = [f"Measured {meta['date']}, kernel {meta['kernel']}, {meta['cpus']} CPUs, load average "
         f"{load0} before and {load1} after; command `{meta['command']}` ({secs} s per rate case, "
         f"median of {reps} interleaved rounds; each server one worker pinned to CPU 1, clients and "
         "the nginx backend on CPU 0; loopback in a private namespace). Ratios in parentheses are "
         "against nginx (lower is better for CPU and memory, higher for rates).", "",
         "| server | h2 100 MB MB/s | h2 CPU s/GB | h1 100 MB MB/s | h1 CPU s/GB | h2 small req/s | "
         "h2 CPU ms/1000 | h2 p50/p99 ms | h1 small req/s | h1 CPU ms/1000 | h1 p50/p99 ms | "
         "handshakes/s | CPU ms/handshake | KB per idle TLS conn |",
         "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
for s in servers:
    r = table[s]
    lines.append(
        f"| {s} | {fmt(r.get('h2_bulk_mb_s'), '{:,.0f}')}{ratio(s, 'h2_bulk_mb_s', False)} "
        f"| {fmt(r.get('h2_bulk_cpu_s_gb'))}{ratio(s, 'h2_bulk_cpu_s_gb', True)} "
        f"| {fmt(r.get('h1_bulk_mb_s'), '{:,.0f}')}{ratio(s, 'h1_bulk_mb_s', False)} "
        f"| {fmt(r.get('h1_bulk_cpu_s_gb'))}{ratio(s, 'h1_bulk_cpu_s_gb', True)} "
        f"| {fmt(r.get('h2_rps'), '{:,.0f}')}{ratio(s, 'h2_rps', False)} "
        f"| {fmt(r.get('h2_cpu_ms_1000'), '{:,.1f}')}{ratio(s, 'h2_cpu_ms_1000', True)} "
        f"| {fmt(r.get('h2_p50_ms'))} / {fmt(r.get('h2_p99_ms'))} "
        f"| {fmt(r.get('h1_rps'), '{:,.0f}')}{ratio(s, 'h1_rps', False)} "
        f"| {fmt(r.get('h1_cpu_ms_1000'), '{:,.1f}')}{ratio(s, 'h1_cpu_ms_1000', True)} "
        f"| {fmt(r.get('h1_p50_ms'))} / {fmt(r.get('h1_p99_ms'))} "
        f"| {fmt(r.get('hs_per_s'), '{:,.0f}')}{ratio(s, 'hs_per_s', False)} "
        f"| {fmt(r.get('hs_cpu_ms'), '{:,.3f}')}{ratio(s, 'hs_cpu_ms', True)} "
        f"| {fmt(r.get('idle_kb_per_conn'), '{:,.1f}')}{ratio(s, 'idle_kb_per_conn', True)} |")
fails = {s: {k: v for k, v in table[s].items() if k.endswith("failed") and v} for s in servers}
fails = {s: v for s, v in fails.items() if v}
if fails:
    lines += ["", "Failures counted (runs or requests): " +
              "; ".join(f"{s}: " + ", ".join(f"{k} {v}" for k, v in d.items()) for s, d in fails.items())]
text_table = "\n".join(lines) + "\n"
path = "bench/README.md"
text = open(path).read()
if "<!-- https:begin -->" not in text:
    text += ("\n## HTTPS over TCP (`bench/run https`)\n\nringgate's TCP front end against nginx, HAProxy "
             "and Caddy as TLS-terminating reverse proxies to one nginx backend.\n\n"
             "<!-- https:begin -->\n<!-- https:end -->\n")
text = re.sub(r"(<!-- https:begin -->\n).*?(<!-- https:end -->)", lambda m: m.group(1) + text_table + m.group(2),
              text, flags=re.S)
open(path, "w").write(text)
print(text_table)
