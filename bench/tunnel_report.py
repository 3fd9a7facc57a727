#!/usr/bin/env python3
"""bench/tunnel_report.py LINES OUT.json SECS LOAD0 LOAD1: the tunnel suite's
table into bench/README.md (between the tunnel markers) and OUT.json.
LINES holds one JSON object per line from bench/tunnel.sh (iperf3 cases),
bench/tunnelbench (handshakes, memory) and the AEAD reference."""
import datetime, json, os, platform, re, sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
out, secs, load0, load1 = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
meta = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "kernel": platform.release(), "cpus": os.cpu_count(), "command": f"bench/run tunnel {secs}",
        "loadavg_before": load0, "loadavg_after": load1}
json.dump({"meta": meta, "results": rows}, open(out, "w"), indent=1)

by = {r["case"]: r for r in rows}
aead = by.get("aead", {})
aead_s_gb = 1 / aead["gb_s"] if aead.get("gb_s") else None
names = {"wggo-wggo": "wireguard-go <-> wireguard-go", "wggo-rg": "wireguard-go client -> ringgate server",
         "rg-rg": "ringgate <-> ringgate"}
md = [f"Measured {meta['date']}, kernel {meta['kernel']}, {meta['cpus']} CPUs, load average {load0} before "
      f"and {load1} after; command `{meta['command']}` (iperf3 TCP for {secs} s through each tunnel, two "
      "network namespaces on a veth pair, MTU 1420 inside; 2 workers per ringgate).", "",
      "| tunnel | Gbit/s | client CPU s/GB | server CPU s/GB | vs wireguard-go, Gbit/s | vs wireguard-go, server CPU/GB |",
      "|---|---:|---:|---:|---:|---:|"]
ref = by.get("wggo-wggo", {})
for k in ("wggo-wggo", "wggo-rg", "rg-rg"):
    r = by.get(k)
    if not r:
        continue
    if "error" in r:
        md.append(f"| {names[k]} | {r['error']} | | | | |")
        continue
    rt = r["gbit_s"] / ref["gbit_s"] if ref.get("gbit_s") else float("nan")
    rc = r["server_cpu_s_per_gb"] / ref["server_cpu_s_per_gb"] if ref.get("server_cpu_s_per_gb") else float("nan")
    md.append(f"| {names[k]} | {r['gbit_s']:.2f} | {r['client_cpu_s_per_gb']:.2f} | {r['server_cpu_s_per_gb']:.2f} "
              f"| {rt:.2f}x | {rc:.2f}x |")
if aead_s_gb:
    md += ["", f"AEAD alone (ChaCha20-Poly1305 seal of 1420-byte packets in place, OpenSSL, one thread, "
               f"`cryptobench`): {aead['gb_s']:.2f} GB/s, i.e. **{aead_s_gb:.2f} CPU s/GB**: the floor "
               "under any tunnel's CPU per GB in each direction."]
hs = [by[c] for c in ("plain", "cookie", "mac2") if c in by]
if hs:
    md += ["", "Handshakes on one worker (`tunnelbench handshakes N`: the responder's CPU per message, "
               "distinct client keys and sources, no I/O):", "",
           "| case | answered | µs per message | per second per worker |", "|---|---:|---:|---:|"]
    label = {"plain": "initiation answered (4 X25519, session)",
             "cookie": "under load, no mac2: cookie reply",
             "mac2": "under load, valid mac2: answered"}
    for r in hs:
        md.append(f"| {label[r['case']]} | {r['answered']}/{r['n']} | {r['ns_per_handshake'] / 1000:.1f} "
                  f"| {r['per_sec']:,.0f} |")
m = by.get("memory")
if m:
    md += ["", f"Memory per idle session (`tunnelbench memory {m['n']}`): {m['established']:,} sessions "
               f"established on one responder: **{m['rss_bytes_per_session']:,.0f} bytes resident** and "
               f"{m['heap_bytes_per_session']:,.0f} bytes of heap per session (the tables are allocated "
               "for the configured capacity up front; resident memory grows as sessions touch them)."]
text = "\n".join(md) + "\n"
readme = "bench/README.md"
s = open(readme).read()
begin, end = "<!-- tunnel:begin -->", "<!-- tunnel:end -->"
if begin in s:
    s = re.sub(re.escape(begin) + ".*?" + re.escape(end), begin + "\n" + text + end, s, flags=re.S)
else:
    s += "\n## tunnel: WireGuard-compatible tunnels\n\n" + begin + "\n" + text + end + "\n"
open(readme, "w").write(s)
print(text)
