#!/usr/bin/env python3
"""bench/tunnel_report.py LINES OUT.json SECS LOAD0 LOAD1 [REPS]: the tunnel suite's
table into bench/README.md (between the tunnel markers) and OUT.json.
LINES holds one JSON object per line from bench/tunnel.sh (iperf3 cases),
bench/tunnelbench (handshakes, memory) and the AEAD reference. The iperf3
cases run REPS rounds (each round all three cases in turn); the table shows
the median round of each case by Gbit/s and every round's Gbit/s."""
import datetime, json, os, platform, re, sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
out, secs, load0, load1 = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
reps = sys.argv[6] if len(sys.argv) > 6 else "1"
meta = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "kernel": platform.release(), "cpus": os.cpu_count(), "command": f"bench/run tunnel {secs} {reps}",
        "loadavg_before": load0, "loadavg_after": load1}
json.dump({"meta": meta, "results": rows}, open(out, "w"), indent=1)

runs = {}
for r in rows:
    runs.setdefault(r["case"], []).append(r)


def median_row(lst):
    """The median run of a case: by Gbit/s (iperf3) or CPU per handshake."""
    for key in ("gbit_s", "ns_per_handshake"):
        ok = sorted((r for r in lst if key in r), key=lambda r: r[key])
        if ok:
            return ok[len(ok) // 2]
    return lst[-1]


by = {k: median_row(v) for k, v in runs.items()}
aead = by.get("aead", {})
aead_s_gb = 1 / aead["gb_s"] if aead.get("gb_s") else None
names = {"wggo-wggo": "wireguard-go <-> wireguard-go", "wggo-rg": "wireguard-go client -> ringgate server",
         "rg-rg": "ringgate <-> ringgate"}
md = [f"Measured {meta['date']}, kernel {meta['kernel']}, {meta['cpus']} CPUs, load average {load0} before "
      f"and {load1} after; command `{meta['command']}` (iperf3 TCP for {secs} s through each tunnel, two "
      f"network namespaces on a veth pair, MTU 1420 inside; 2 workers per ringgate; {reps} rounds, "
      "median round shown).", "",
      "| tunnel | Gbit/s | client CPU s/GB | server CPU s/GB | vs wireguard-go, Gbit/s | vs wireguard-go, server CPU/GB | every round, Gbit/s |",
      "|---|---:|---:|---:|---:|---:|---|"]
ref = by.get("wggo-wggo", {})
for k in ("wggo-wggo", "wggo-rg", "rg-rg"):
    r = by.get(k)
    if not r:
        continue
    if "error" in r:
        md.append(f"| {names[k]} | {r['error']} | | | | | |")
        continue
    every = ", ".join(f"{x['gbit_s']:.2f}" if "gbit_s" in x else "failed" for x in runs[k])
    rt = r["gbit_s"] / ref["gbit_s"] if ref.get("gbit_s") else float("nan")
    rc = r["server_cpu_s_per_gb"] / ref["server_cpu_s_per_gb"] if ref.get("server_cpu_s_per_gb") else float("nan")
    md.append(f"| {names[k]} | {r['gbit_s']:.2f} | {r['client_cpu_s_per_gb']:.2f} | {r['server_cpu_s_per_gb']:.2f} "
              f"| {rt:.2f}x | {rc:.2f}x | {every} |")
if aead_s_gb:
    md += ["", f"AEAD alone (ChaCha20-Poly1305 seal of 1420-byte packets in place, OpenSSL, one thread, "
               f"`cryptobench`): {aead['gb_s']:.2f} GB/s, i.e. **{aead_s_gb:.2f} CPU s/GB**: the floor "
               "under any tunnel's CPU per GB in each direction."]
hs = [by[c] for c in ("plain_no_precompute", "plain", "cookie", "mac2") if c in by]
if hs:
    md += ["", f"Handshakes on one worker (`tunnelbench handshakes N`, {reps} runs, median shown: the "
               "responder's CPU per message, distinct client keys and sources, no I/O):", "",
           "| case | answered | µs per message | per second per worker |", "|---|---:|---:|---:|"]
    label = {"plain_no_precompute": "initiation answered, static-static DH computed (4 X25519)",
             "plain": "initiation answered, static-static DH from the config (3 X25519): what a worker does",
             "cookie": "under load, no mac2: cookie reply",
             "mac2": "under load, valid mac2: answered (3 X25519)"}
    for r in hs:
        md.append(f"| {label[r['case']]} | {r['answered']}/{r['n']} | {r['ns_per_handshake'] / 1000:.1f} "
                  f"| {r['per_sec']:,.0f} |")
m = by.get("memory")
if m:
    sizes = ""
    if "sizeof_peer" in m:
        sizes = (f" A peer is {m['sizeof_peer']} bytes, a session {m['sizeof_session']}, a keypair with its "
                 f"2048-counter replay window {m['sizeof_keypair']}; the rest is table slots, allowed-IPs "
                 "nodes and the rate limiter.")
    md += ["", f"Memory per idle session (`tunnelbench memory {m['n']}`): {m['established']:,} sessions "
               f"established (each confirmed by a data packet) on one responder sized for them: "
               f"**{m['rss_bytes_per_session']:,.0f} bytes resident per session**, counting the empty "
               f"engine's {m['rss_kb_engine_empty']:,} KB, after a warm-up handshake paid the crypto "
               f"libraries' one-time set-up; {m['heap_bytes_per_session']:,.0f} bytes of address space "
               "reserved per session of capacity (calloc'd pools, touched only as used)." + sizes]
t = by.get("idle_turn")
if t:
    md += ["", f"What {t['n']:,} idle sessions cost a worker's loop turn: next deadline "
               f"{t['next_expiry_ns']:,.0f} ns, firing timers when none is due {t['handle_expiry_ns']:,.0f} ns "
               "(sessions sit in a timer wheel)."]
rl = by.get("reload")
if rl:
    md += ["", f"A reload that changes no peer, with {rl['peers']:,} peers established: {rl['ms']:.1f} ms of the "
               "worker's time (every peer asked again; unchanged allowed IPs leave the trie alone)."]
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
