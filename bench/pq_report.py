#!/usr/bin/env python3
"""pq_report.py RUNS OUT SECS REPS LOAD0 LOAD1: turns the JSON lines of
bench/pq.sh into bench/results/pq.json and the table between the pq markers
of bench/README.md (run by bench/run pq). Medians over the interleaved
rounds; ratios within this run: hybrid (X25519MLKEM768) over X25519 for
each server and transport, ringgate over nginx for each transport and
group. A case in which no handshake completed is shown as failed, with the
client's first error, never as a number."""
import datetime, json, os, platform, re, statistics, sys

runs_path, out, secs, reps, load0, load1 = sys.argv[1:7]
lines = [json.loads(l) for l in open(runs_path) if l.strip()]
versions = next((l["meta"] for l in lines if "meta" in l), {})
checks = [l["check"] for l in lines if "check" in l]
runs = [l for l in lines if "meta" not in l and "check" not in l]
meta = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "kernel": platform.release(), "cpus": os.cpu_count(),
        "command": f"bench/run pq {secs} {reps}",
        "loadavg_before": load0, "loadavg_after": load1, "versions": versions, "checks": checks}
med = statistics.median
HYB, CLS = "X25519MLKEM768", "X25519"
servers = [s for s in ("ringgate", "nginx") if any(r["server"] == s for r in runs)]


def handshakes(r):
    return r.get("handshakes", 0) or 0


def seconds(r):
    # h2load: the sum of its runs' "finished in"; h3load: its elapsed time
    return r.get("seconds") if r["proto"] == "tcp" else r.get("elapsed_s")


def case_row(s, proto, group):
    rs = [r for r in runs if r["server"] == s and r["proto"] == proto and r["group"] == group]
    good = [r for r in rs if handshakes(r) and seconds(r)]
    row = {"server": s, "proto": proto, "group": group, "rounds": len(rs), "rounds_ok": len(good),
           "handshakes": sum(handshakes(r) for r in rs),
           "failed": sum((r.get("failed", 0) or 0) + (r.get("errored", 0) or 0) for r in rs)}
    errs = [r.get("error") for r in rs if r.get("error")]
    if errs:
        row["error"] = errs[0]
    if not good:
        return row
    row["hs_per_s"] = med(handshakes(r) / seconds(r) for r in good)
    row["hs_per_s_min"] = min(handshakes(r) / seconds(r) for r in good)
    row["hs_per_s_max"] = max(handshakes(r) / seconds(r) for r in good)
    row["cpu_ms_per_hs"] = med(1000.0 * r["server_cpu_s"] / handshakes(r) for r in good)
    row["server_cpu_pct"] = med(100.0 * r["server_cpu_s"] / r["wall_s"] for r in good if r["wall_s"])
    row["lo_bytes_per_hs"] = med(r["lo_rx_bytes"] / handshakes(r) for r in good)
    if proto == "quic":
        row["client_cpu_pct"] = med(100.0 * r["client_cpu_s"] / r["elapsed_s"] for r in good)
        row["initials_per_hs"] = med(r["hs_initial_dgrams"] / handshakes(r) for r in good)
        row["hs_tx_bytes"] = med(r["hs_tx_bytes"] / handshakes(r) for r in good)
        row["hs_rx_bytes"] = med(r["hs_rx_bytes"] / handshakes(r) for r in good)
        row["client_groups"] = sorted({r.get("group", "?") for r in good})
        row["client_group_other"] = sum(r.get("group_other", 0) for r in good)
    else:
        row["client_groups"] = sorted({g for r in good for g in r.get("client_groups", [])})
    # ringgate's own count, by proto/group, summed over the rounds
    sg = {}
    for r in rs:
        for k, v in r.get("server_groups", {}).items():
            sg[k] = sg.get(k, 0) + v
    row["server_groups"] = sg
    return row


rows = [case_row(s, p, g) for s in servers for p in ("tcp", "quic") for g in (HYB, CLS)]


def find(s, p, g):
    return next((r for r in rows if r["server"] == s and r["proto"] == p and r["group"] == g), None)


def run_of(s, p, g, rep):
    return next((r for r in runs if r["server"] == s and r["proto"] == p and r["group"] == g
                 and r["rep"] == rep and handshakes(r) and seconds(r)), None)


def per_hs(r, key):
    if key == "hs_per_s":
        return handshakes(r) / seconds(r)
    return 1000.0 * r["server_cpu_s"] / handshakes(r)  # cpu_ms_per_hs


def ratio(a, b, key):
    """Median over the rounds of a/b measured in the same round (the cases
    of a round run seconds apart), with its min and max; None when no
    round has both."""
    if not a or not b:
        return None
    rs = []
    for rep in sorted({r["rep"] for r in runs}):
        x, y = run_of(a["server"], a["proto"], a["group"], rep), run_of(b["server"], b["proto"], b["group"], rep)
        if x and y and per_hs(y, key):
            rs.append(per_hs(x, key) / per_hs(y, key))
    return (med(rs), min(rs), max(rs)) if rs else None


ratios = {}
for s in servers:
    for p in ("tcp", "quic"):
        ratios[f"{s} {p} cpu hybrid/x25519"] = ratio(find(s, p, HYB), find(s, p, CLS), "cpu_ms_per_hs")
        ratios[f"{s} {p} hs/s hybrid/x25519"] = ratio(find(s, p, HYB), find(s, p, CLS), "hs_per_s")
for p in ("tcp", "quic"):
    for g in (HYB, CLS):
        ratios[f"{p} {g} hs/s ringgate/nginx"] = ratio(find("ringgate", p, g), find("nginx", p, g), "hs_per_s")
        ratios[f"{p} {g} cpu ringgate/nginx"] = ratio(find("ringgate", p, g), find("nginx", p, g), "cpu_ms_per_hs")

json.dump({"meta": meta, "results": rows, "ratios": ratios, "runs": runs}, open(out, "w"), indent=1)


def x(v):
    """a paired ratio: median (min–max over the rounds)"""
    if v is None:
        return "–"
    return f"{v[0]:.2f}x ({v[1]:.2f}–{v[2]:.2f})" if v[1] != v[2] else f"{v[0]:.2f}x"


def groups_cell(r):
    parts = []
    sg = r.get("server_groups") or {}
    tot = sum(v for k, v in sg.items() if k.startswith(r["proto"] + "/"))
    if r["server"] == "ringgate":
        want = sg.get(f"{r['proto']}/{r['group']}", 0)
        parts.append(f"server: {want:,} of {tot:,} {r['group']}" if tot else "server: none counted")
    cg = r.get("client_groups") or []
    if cg:
        parts.append("client: " + ", ".join(cg))
    return "; ".join(parts) or "–"


label = {"tcp": "TCP (h2, TLS 1.3)", "quic": "QUIC (HTTP/3)"}
out_lines = [
    f"Measured {meta['date']}, kernel {meta['kernel']}, {meta['cpus']} CPUs, load average {load0} before "
    f"and {load1} after; command `{meta['command']}` ({secs} s per case, median of {reps} interleaved "
    "rounds; each server one process pinned to CPU 1, the clients on CPU 0; loopback in a private "
    "namespace inside the Debian 13 root; backend behind a veth pair).",
    "",
    "Versions: " + "; ".join(f"{k} `{v.strip()}`" for k, v in versions.items()) + ".",
    "",
    "| server | transport | group | handshakes/s (median, min–max) | server CPU ms/handshake "
    "| server capacity, handshakes/s per core | hybrid ÷ X25519 CPU per handshake, per round "
    "| ringgate ÷ nginx handshakes/s, per round | bytes on lo per handshake | QUIC Initial datagrams sent per handshake "
    "| QUIC bytes before completion, client→server / server→client | server / client CPU % | group seen |",
    "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
]
for r in rows:
    head = f"| {r['server']} | {label[r['proto']]} | {r['group']} |"
    if "hs_per_s" not in r:
        why = r.get("error") or "no handshake completed"
        out_lines.append(f"{head} {r['server']}: failed, {why} ({r['failed']:,} requests failed in "
                         f"{r['rounds']} rounds) | – | – | – | – | – | – | – | – | – |")
        continue
    cpu_ratio = ratio(r, find(r["server"], r["proto"], CLS), "cpu_ms_per_hs") if r["group"] == HYB else None
    rn = ratio(r, find("nginx", r["proto"], r["group"]), "hs_per_s") if r["server"] == "ringgate" else None
    quic = r["proto"] == "quic"
    cells = [f"{r['hs_per_s']:,.0f} ({r['hs_per_s_min']:,.0f}–{r['hs_per_s_max']:,.0f})",
             f"{r['cpu_ms_per_hs']:.3f}", f"{1000.0 / r['cpu_ms_per_hs']:,.0f}", x(cpu_ratio), x(rn), f"{r['lo_bytes_per_hs']:,.0f}",
             f"{r['initials_per_hs']:.2f}" if quic else "–",
             f"{r['hs_tx_bytes']:,.0f} / {r['hs_rx_bytes']:,.0f}" if quic else "–",
             f"{r['server_cpu_pct']:.0f} / {r['client_cpu_pct']:.0f}" if quic else f"{r['server_cpu_pct']:.0f} / –",
             groups_cell(r)]
    out_lines.append(head + " " + " | ".join(cells) + " |")

failed = sum(r["failed"] for r in rows)
out_lines += ["", f"Failed requests in the whole run: {failed:,}."]


def check_cell(c):
    q = c["quic_h3load"]
    if isinstance(q, dict):
        quic = (f"h3load got {q.get('group')}" if q.get("handshakes") else
                f"h3load failed: {q.get('error') or 'no handshake'}")
    else:
        quic = f"h3load: {str(q)[:120]}"
    return (f"{c['server']} offered {c['group']} only: s_client over TCP got "
            f"{c['tcp_s_client'] or 'no handshake'}, {quic}")


if checks:
    out_lines += ["", "One handshake per server and group before the rounds, by clients that name the "
                  "group they got: " + "; ".join(check_cell(c) for c in checks) + "."]
tg = []
for p in ("tcp", "quic"):
    v = ratios.get(f"ringgate {p} cpu hybrid/x25519")
    tg.append(f"ringgate {p.upper()} hybrid ÷ X25519 CPU per handshake **{x(v)}** "
              f"({'met' if v is not None and v[0] <= 1.3 else 'missed' if v is not None else 'not measured'})")
for p in ("tcp", "quic"):
    v = ratios.get(f"{p} {HYB} hs/s ringgate/nginx")
    tg.append(f"ringgate ÷ nginx hybrid handshakes/s over {p.upper()} **{x(v)}** "
              f"({'met' if v is not None and v[0] >= 1.0 else 'missed' if v is not None else 'not measured: nginx failed'})")
nx = [f"nginx {p.upper()} {x(ratios.get(f'nginx {p} cpu hybrid/x25519'))}" for p in ("tcp", "quic")]
out_lines += ["", "Targets (issue 20 §5): " + "; ".join(tg) + ". For reference, hybrid ÷ X25519 CPU "
              "per handshake for " + ", ".join(nx) + "."]
table = "\n".join(out_lines) + "\n"
path = "bench/README.md"
text = open(path).read()
if "<!-- pq:begin -->" not in text:
    sys.exit("bench/README.md has no pq markers")
text = re.sub(r"(<!-- pq:begin -->\n).*?(<!-- pq:end -->)", lambda m: m.group(1) + table + m.group(2),
              text, flags=re.S)
open(path, "w").write(text)
print(table)
