#!/usr/bin/env bash
# The admin API under attack, in a private network namespace (every
# 127.0.0.0/8 address is a local source there):
# 1. an attacker's failed tokens lock out the attacker's address only: the
#    operator's right token gets 200 at once, also while distributed
#    failures have emptied the global bucket (then only a slowdown);
# 2. "Bearer TOKEN\0junk", trailing junk, a prefix, an empty token: 401;
# 3. 200 idle sockets, a steady stream of new ones and a slowloris (one
#    header byte per 500 ms) from one address, then from 50 addresses: the
#    operator's GET /status answers 200 within 2 s from that address and
#    from another; the slowloris is closed by the header timeout.
# Every load is bounded in count and time.
. "$(dirname "$0")/../lib.sh"
in_private_netns "$@"
RG=$(realpath "$1")
PORT=18082
TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n') # 48 hex digits
printf '%s\n' "$TOKEN" >"$RG_TMP/token"
chmod 600 "$RG_TMP/token"
cat >"$RG_TMP/rg.ini" <<INI
[appliance]
workers = 1
admin = 127.0.0.1:$PORT
admin_token_file = $RG_TMP/token
INI
"$RG" -c "$RG_TMP/rg.ini" 2>"$RG_TMP/log" &
pid=$!
RG_PIDS+=("$pid")
wait_for 20 curl -sf http://127.0.0.1:$PORT/health || { cat "$RG_TMP/log" >&2; fail "no /health"; }

python3 - "$PORT" "$TOKEN" <<'PY' || { tail -5 "$RG_TMP/log" >&2; fail "admin API under attack: see above"; }
import select, socket, sys, threading, time
port, token = int(sys.argv[1]), sys.argv[2].encode()
failed = []

def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, file=sys.stderr)
    if not cond:
        failed.append(what)

def request(src, auth=None, path="/status", timeout=5.0):
    """One request from source address src: (status, seconds)."""
    t0 = time.monotonic()
    s = socket.socket()
    s.settimeout(timeout)
    s.bind((src, 0))
    try:
        s.connect(("127.0.0.1", port))
        head = b"GET " + path.encode() + b" HTTP/1.1\r\nHost: admin\r\n"
        if auth is not None:
            head += b"Authorization: " + auth + b"\r\n"
        s.sendall(head + b"\r\n")
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError as e:
        return ("error: %s" % e, time.monotonic() - t0)
    finally:
        s.close()
    line = data.split(b"\r\n", 1)[0].split()
    return (int(line[1]) if len(line) > 1 else "no answer", time.monotonic() - t0)

right = b"Bearer " + token

# 2. The field is compared whole, in length too.
for what, auth in [("token NUL junk", right + b"\0junk"), ("token + junk", right + b"junk"),
                   ("token prefix", right[:-1]), ("empty token", b"Bearer "),
                   ("token NUL", right + b"\0"), ("no scheme", token)]:
    st, _ = request("127.0.0.3", auth)
    check(st == 401, "%s: %s, want 401" % (what, st))
st, _ = request("127.0.0.3", right)
check(st == 200, "right token after those: %s, want 200" % st)

# 1. One attacker address fails 20 times: locked after 10.
codes = [request("127.0.0.2", b"Bearer wrong-token-%d" % i)[0] for i in range(20)]
check(codes[:10] == [401] * 10 and codes[10:] == [429] * 10,
      "attacker 127.0.0.2: %s, want 10 x 401 then 429" % codes)
st, dt = request("127.0.0.1", right)
check(st == 200 and dt < 1.0, "operator after the attacker: %s in %.2f s, want 200 at once" % (st, dt))
# Distributed guessing: 20 clients fail from ever new addresses, so the
# global bucket (50, one more a second) stays dry; the operator's right
# token still passes at once, a wrong one from a fresh address is slowed.
drain_stop = threading.Event()
def drainer(net):
    i = 0
    while not drain_stop.is_set():
        request("127.%d.%d.%d" % (net, i // 250, i % 250 + 1), b"Bearer nope", timeout=3.0)
        i += 1
drainers = [threading.Thread(target=drainer, args=(10 + j,)) for j in range(20)]
for t in drainers:
    t.start()
time.sleep(1.5)
probe = []
pt = threading.Thread(target=lambda: probe.append(request("127.0.2.1", b"Bearer nope")))
pt.start()
time.sleep(0.05)
st, dt = request("127.0.0.1", right)
check(st == 200 and dt < 1.0, "operator, global bucket empty: %s in %.2f s, want 200 at once" % (st, dt))
st, _ = request("127.0.0.2", right)
check(st == 429, "locked attacker even with the right token: %s, want 429" % st)
pt.join()
check(probe and probe[0][0] == 429 and probe[0][1] >= 0.8,
      "new address, wrong token in the back-off: %s, want a 429 held about 1 s" % probe)
drain_stop.set()
for t in drainers:
    t.join()

# 3. Hogs. Every socket they open is closed by the end of the test.
stop = threading.Event()
socks, lock = [], threading.Lock()

def hog(sources, rate, n_max):
    """Open n_max idle sockets at once, then `rate` new ones per second
    (the oldest closed), from the given source addresses, until stop."""
    k = 0
    while not stop.is_set():
        burst = n_max if k == 0 else max(1, rate // 20)
        for _ in range(burst):
            s = socket.socket()
            s.bind((sources[k % len(sources)], 0))
            s.setblocking(False)
            try:
                s.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            except OSError:
                s.close()
                continue
            k += 1
            with lock:
                socks.append(s)
                while len(socks) > n_max:
                    socks.pop(0).close()
        stop.wait(0.05)

slow_closed = []
def slowloris(src):
    """One header byte per 500 ms; note when the server closes on us."""
    s = socket.socket()
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    t0 = time.monotonic()
    for b in b"GET /status HTTP/1.1\r\nHost: admin\r\nX-Padding: " + b"a" * 200:
        if stop.is_set():
            break
        try:
            s.send(bytes([b]))
            r, _, _ = select.select([s], [], [], 0.5)
            gone = bool(r) and s.recv(1) == b""
        except OSError:
            gone = True
        if gone:
            slow_closed.append(round(time.monotonic() - t0, 2))
            break
    s.close()

def under_attack(name, sources, operators):
    stop.clear()
    del slow_closed[:]
    threads = [threading.Thread(target=hog, args=(sources, 200, 200)),
               threading.Thread(target=slowloris, args=(sources[0],))]
    for t in threads:
        t.start()
    time.sleep(1.0)  # the burst of 200 is in, the stream going on
    for op in operators:
        for i in range(3):
            st, dt = request(op, right, timeout=5.0)
            check(st == 200 and dt < 2.0, "%s: operator from %s, try %d: %s in %.2f s, want 200 within 2 s"
                  % (name, op, i, st, dt))
    time.sleep(2.5)
    check(len(slow_closed) == 1 and slow_closed[0] < 3.0,
          "%s: slowloris closed (evicted or timed out) after %s s, want within 3 s" % (name, slow_closed))
    stop.set()
    for t in threads:
        t.join()
    with lock:
        for s in socks:
            s.close()
        del socks[:]

# A slowloris alone is closed by the header timeout (2 s), not before.
stop.clear()
slowloris("127.0.0.6")
check(len(slow_closed) == 1 and 1.5 <= slow_closed[0] < 3.5,
      "lone slowloris closed by the header timeout after %s s, want 2 to 3.5 s" % slow_closed)

t_start = time.monotonic()
under_attack("one hog address", ["127.0.0.5"], ["127.0.0.5", "127.0.0.1"])
under_attack("50 hog addresses", ["127.0.3.%d" % (i + 1) for i in range(50)], ["127.0.3.1", "127.0.0.1"])

st, _ = request("127.0.0.1", right)
check(st == 200, "after the attacks: %s" % st)
print("attacks took %.1f s" % (time.monotonic() - t_start), file=sys.stderr)
sys.exit(1 if failed else 0)
PY
rg_stop "$pid" "$RG_TMP/log" "ringgate"
echo "admin: ok"
