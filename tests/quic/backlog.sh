#!/bin/bash
# The handshake backlog: with --backlog 1, a second client Initial while the
# first handshake is still open is dropped and counted. The Initials are
# real ones, captured from gtlsclient by a socket that never answers, then
# replayed to quic_testsrv. Then the idle timeout (1 s) ends the first
# handshake, which frees the backlog for the second. The handshake timeout
# is set apart (10 s): by default it is twice the idle timeout (issue 18),
# and an absolute 2 s could end the first handshake while the test still
# drains its first flight.
# Args: quic_testsrv
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.sh"
in_private_netns "$@"
SRV=$1
[[ -x $SRV ]] || fail "usage: backlog.sh QUIC_TESTSRV"
GTLS=$(find_gtlsclient) || skip "gtlsclient not installed (package ngtcp2-client)"
make_cert "$RG_TMP" localhost
start_srv backlog --backlog 1 --idle-timeout 1 --handshake-timeout 10
python3 - "$GTLS" "$PORT" <<'PY' || fail "backlog replay failed"
import socket, subprocess, sys, time
gtls, port = sys.argv[1], int(sys.argv[2])
cap = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
cap.bind(("127.0.0.1", port + 1))
cap.settimeout(5)
initials = []
for _ in range(2):
    p = subprocess.Popen([gtls, "--quiet", "127.0.0.1", str(port + 1), "https://localhost/"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        initials.append(cap.recv(2048))
    finally:
        p.kill()
        p.wait()
assert all(len(i) >= 1200 and i[0] & 0xf0 == 0xc0 for i in initials), "not Initials"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1)
s.sendto(initials[0], ("127.0.0.1", port))
assert s.recv(2048), "no answer to the first Initial"
while True:  # drain the rest of the first flight
    try:
        s.recv(2048)
    except socket.timeout:
        break
def client_scid(pkt):  # long header: flags, version, DCID len+DCID, SCID len+SCID
    dl = pkt[5]
    return pkt[7 + dl:7 + dl + pkt[6 + dl]]
def reply_dcid(pkt):
    return pkt[6:6 + pkt[5]] if pkt[0] & 0x80 else None
s.sendto(initials[1], ("127.0.0.1", port))
second = client_scid(initials[1])
while True:  # the first connection may retransmit (PTO); the second must get nothing
    try:
        r = s.recv(2048)
    except socket.timeout:
        break
    assert reply_dcid(r) != second, "the second Initial was answered past the backlog"
# the idle timeout (1 s) frees the first handshake, and with it the backlog
time.sleep(1.5)
s.sendto(initials[1], ("127.0.0.1", port))
r = s.recv(2048)
assert reply_dcid(r) == second, "the second Initial was not accepted after the first timed out"
print("backlog ok")
PY
stop_srv
[[ $(counter drop_backlog) -eq 1 ]] || fail "drop_backlog $(counter drop_backlog)"
[[ $(counter handshakes_started) -eq 2 ]] || fail "handshakes_started $(counter handshakes_started)"
[[ $(counter handshakes_failed) -ge 1 ]] || fail "handshakes_failed $(counter handshakes_failed)"
note "$(grep -v ' 0$' "$RG_TMP/backlog.out" | tr '\n' ' ')"
echo "PASS"
