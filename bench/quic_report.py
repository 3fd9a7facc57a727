#!/usr/bin/env python3
"""quic_report.py RUNS OUT SECS REPS LOAD0 LOAD1 RG_MODE: turns the JSON lines
of bench/quic.sh into bench/results/quic.json and the table between the
quic markers of bench/README.md (run by bench/run quic)."""
import datetime, json, os, platform, re, statistics, sys

runs_path, out, secs, reps, load0, load1, rg_mode = sys.argv[1:8]
runs = [json.loads(l) for l in open(runs_path) if l.strip()]
# perf's "--sort dso,symbol" lines. The Debian libraries are stripped
# (no -dbgsym packages here), so their samples land on bare addresses:
# those are summed per library into one line each.
profile, dsos = [], []
if os.path.exists(runs_path + ".profile"):
    agg = {}
    for l in open(runs_path + ".profile"):
        m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(\S+)", l)
        if not m:
            continue
        pc, dso, space, sym = float(m.group(1)), m.group(2), m.group(3), m.group(4)
        if sym.startswith("0x"):
            sym = "(stripped: unresolved addresses)"
        key = (dso, sym)
        agg.setdefault(key, {"percent": 0.0, "dso": dso, "space": "kernel" if space == "k" else "user",
                             "symbol": sym})
        agg[key]["percent"] += pc
    profile = sorted(agg.values(), key=lambda x: -x["percent"])
if os.path.exists(runs_path + ".dso"):
    for l in open(runs_path + ".dso"):
        m = re.match(r"\s*([\d.]+)%\s+(\S+)", l)
        if m:
            dsos.append({"percent": float(m.group(1)), "dso": m.group(2)})
profile = profile[:10]
cmd = f"bench/run quic {secs} {reps}" if rg_mode == "auto" else f"RG_MODE={rg_mode} bench/run quic {secs} {reps}"
meta = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "kernel": platform.release(), "cpus": os.cpu_count(), "command": cmd,
        "loadavg_before": load0, "loadavg_after": load1, "rg_mode": rg_mode}

servers = []
for r in runs:
    if r["server"] not in servers:
        servers.append(r["server"])
GB = 1e9
rows = {}
for s in servers:
    rs = [r for r in runs if r["server"] == s]
    bulk = [r for r in rs if r["case"] == "bulk" and r.get("ok") == 1]
    idle = next((r for r in rs if r["case"] == "idle"), None)
    row = {"server": s, "label": next((r["label"] for r in rs if "label" in r), s)}
    if bulk:
        mbps = [r["bytes_per_s"] / 1e6 for r in bulk]
        row.update(bulk_mb_s=statistics.median(mbps), bulk_mb_s_min=min(mbps), bulk_mb_s_max=max(mbps),
                   bulk_runs=len(bulk),
                   bulk_cpu_s_per_gb=statistics.median(r["server_cpu_s"] / (r["bytes"] / GB) for r in bulk),
                   bulk_backend_cpu_s_per_gb=statistics.median(r["backend_cpu_s"] / (r["bytes"] / GB) for r in bulk),
                   bulk_client_cpu_share=statistics.median(r["client_cpu_s"] / r["elapsed_s"] for r in bulk))
    row["bulk_failed"] = sum(1 for r in rs if r["case"] == "bulk" and r.get("ok") != 1)
    small = [r for r in rs if r["case"] == "small" and r.get("ok")]
    hs = [r for r in rs if r["case"] == "handshake" and r.get("ok")]
    med = lambda xs, fn: statistics.median(fn(x) for x in xs)
    if small:
        row.update(small_rps=med(small, lambda r: r["rps"]),
                   small_rps_min=min(r["rps"] for r in small), small_rps_max=max(r["rps"] for r in small),
                   small_cpu_ms_per_1000=med(small, lambda r: r["server_cpu_s"] * 1e6 / r["ok"]),
                   small_backend_cpu_ms_per_1000=med(small, lambda r: r["backend_cpu_s"] * 1e6 / r["ok"]),
                   small_p50_ms=med(small, lambda r: r["p50_ms"]), small_p99_ms=med(small, lambda r: r["p99_ms"]))
    if hs:
        row.update(handshakes_s=med(hs, lambda r: r["rps"]),
                   handshakes_s_min=min(r["rps"] for r in hs), handshakes_s_max=max(r["rps"] for r in hs),
                   handshake_cpu_ms=med(hs, lambda r: r["server_cpu_s"] * 1e3 / r["ok"]),
                   handshake_p50_ms=med(hs, lambda r: r["p50_ms"]))
    row["small_failed"] = sum(r.get("failed", 0) for r in rs if r["case"] == "small")
    row["handshake_failed"] = sum(r.get("failed", 0) for r in rs if r["case"] == "handshake")
    if idle:
        n = idle.get("handshakes", 0)
        row.update(idle_n=idle["idle_n"], idle_established=n,
                   idle_kb_per_conn=(idle["rss_idle_kb"] - idle["rss_before_kb"]) / n if n else None)
    for kase in ("bulk", "small", "handshake"):
        rk = [r for r in rs if r["case"] == kase and r.get("elapsed_s")]
        if rk:
            row[f"{kase}_server_cpu_share"] = statistics.median(r["server_cpu_s"] / r["elapsed_s"] for r in rk)
            row[f"{kase}_client_cpu_share"] = statistics.median(r["client_cpu_s"] / r["elapsed_s"] for r in rk)
    rows[s] = row

def ratio(a, b, key):
    x, y = rows.get(a, {}).get(key), rows.get(b, {}).get(key)
    return x / y if x and y else None

ratios = {"ringgate_cpu_per_gb_vs_gtlsserver": ratio("ringgate", "gtlsserver", "bulk_cpu_s_per_gb"),
          "ringgate_throughput_vs_caddy_proxy": ratio("ringgate", "caddy-proxy", "bulk_mb_s"),
          "ringgate_throughput_vs_caddy_files": ratio("ringgate", "caddy-files", "bulk_mb_s"),
          "ringgate_throughput_vs_gtlsserver": ratio("ringgate", "gtlsserver", "bulk_mb_s"),
          "ringgate_small_rps_vs_caddy_proxy": ratio("ringgate", "caddy-proxy", "small_rps"),
          "ringgate_handshakes_vs_caddy_proxy": ratio("ringgate", "caddy-proxy", "handshakes_s")}
json.dump({"meta": meta, "results": list(rows.values()), "ratios": ratios, "profile_ringgate_bulk": profile,
           "profile_ringgate_bulk_by_dso": dsos,
           "runs": runs}, open(out, "w"), indent=1)

f = lambda v, fmt: "–" if v is None else format(v, fmt)
names = {"caddy-proxy": "Caddy 2.6 (quic-go), reverse proxy to nginx",
         "caddy-files": "Caddy 2.6, file_server (reference)",
         "gtlsserver": "gtlsserver (ngtcp2 1.11 example), files"}
idle_n = next((r.get("idle_n") for r in rows.values() if r.get("idle_n")), "?")
lines = [f"Measured {meta['date']}, kernel {meta['kernel']}, {meta['cpus']} CPUs, load average {load0} before "
         f"and {load1} after; command `{cmd}`: {reps} interleaved rounds over the servers, each round one "
         f"100 MB download, {secs} s of small requests and {secs} s of handshakes per server; medians, with "
         "min–max; servers pinned to CPU 1, h3load and nginx to CPU 0; loopback in a private network "
         "namespace; one self-signed P-256 certificate, verified by h3load.", "",
         "| server | 100 MB download, MB/s (median, min–max) | server CPU s/GB | backend CPU s/GB "
         "| small requests/s (4 conns × 16 streams, 100 B) | server CPU ms/1000 req | p50 / p99 ms "
         f"| handshakes/s (1 request per connection) | server CPU ms/handshake | RSS per idle connection, KB (N = {idle_n}) |",
         "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
for s in servers:
    r = rows[s]
    name = r["label"] if s == "ringgate" else names.get(s, s)
    lines.append(
        f"| {name} | {f(r.get('bulk_mb_s'), '.1f')} ({f(r.get('bulk_mb_s_min'), '.0f')}–{f(r.get('bulk_mb_s_max'), '.0f')}) "
        f"| {f(r.get('bulk_cpu_s_per_gb'), '.2f')} | {f(r.get('bulk_backend_cpu_s_per_gb'), '.2f')} "
        f"| {f(r.get('small_rps'), ',.0f')} ({f(r.get('small_rps_min'), ',.0f')}–{f(r.get('small_rps_max'), ',.0f')}) "
        f"| {f(r.get('small_cpu_ms_per_1000'), '.0f')} "
        f"| {f(r.get('small_p50_ms'), '.2f')} / {f(r.get('small_p99_ms'), '.2f')} "
        f"| {f(r.get('handshakes_s'), ',.0f')} ({f(r.get('handshakes_s_min'), ',.0f')}–{f(r.get('handshakes_s_max'), ',.0f')}) "
        f"| {f(r.get('handshake_cpu_ms'), '.2f')} "
        f"| {f(r.get('idle_kb_per_conn'), '.1f')}"
        + (f" ({r.get('idle_established')} of {r.get('idle_n')} up)" if r.get('idle_established') != r.get('idle_n') else "")
        + " |")
lines.append("")
rt = lambda k: f(ratios[k], ".2f") + "x"
lines.append(f"Ratios: ringgate CPU/GB ÷ gtlsserver CPU/GB = **{rt('ringgate_cpu_per_gb_vs_gtlsserver')}**; "
             f"ringgate throughput ÷ Caddy (proxy) throughput = **{rt('ringgate_throughput_vs_caddy_proxy')}** "
             f"(÷ Caddy file_server {rt('ringgate_throughput_vs_caddy_files')}, ÷ gtlsserver "
             f"{rt('ringgate_throughput_vs_gtlsserver')}); small requests/s ÷ Caddy (proxy) "
             f"{rt('ringgate_small_rps_vs_caddy_proxy')}; handshakes/s ÷ Caddy (proxy) "
             f"{rt('ringgate_handshakes_vs_caddy_proxy')}.")
fails = sum(r.get("bulk_failed", 0) + r.get("small_failed", 0) + r.get("handshake_failed", 0) for r in rows.values())
lines += ["", f"Failed requests in the whole run: {fails}. CPU use during each case, % of one core, "
          "server / h3load (a side near 100% is the limit; h3load near 100% means the client, "
          "not the server, bounds that number):", "",
          "| server | download | small requests | handshakes |", "|---|---:|---:|---:|"]
pc = lambda r, k: f"{f(r.get(k + '_server_cpu_share', None) and r[k + '_server_cpu_share'] * 100, '.0f')} / " \
                  f"{f(r.get(k + '_client_cpu_share', None) and r[k + '_client_cpu_share'] * 100, '.0f')}"
for sname in servers:
    r = rows[sname]
    lines.append(f"| {sname} | {pc(r, 'bulk')} | {pc(r, 'small')} | {pc(r, 'handshake')} |")
if profile:
    lines += ["", "Profile of ringgate during one more 100 MB download (`perf record -e cpu-clock -g`, "
              "self time; samples in a stripped library summed into one line):", "",
              "| % | library | symbol |", "|---:|---|---|"]
    lines += [f"| {p['percent']:.1f} | {p['dso']} | `{p['symbol']}` |" for p in profile]
if dsos:
    lines += ["", "By library: " + ", ".join(f"{d['dso']} {d['percent']:.1f}%" for d in dsos) + "."]
table = "\n".join(lines) + "\n"
path = "bench/README.md"
text = open(path).read()
text = re.sub(r"(<!-- quic:begin -->\n).*?(<!-- quic:end -->)", lambda m: m.group(1) + table + m.group(2),
              text, flags=re.S)
open(path, "w").write(text)
print(table)
