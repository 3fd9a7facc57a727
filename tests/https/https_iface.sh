#!/usr/bin/env bash
# [https] listen = iface NAME:PORT (issue 9): the TCP listeners follow the
# interface's addresses through netlink as [quic]'s do: an address added is
# served by HTTPS within 2 s, removed it is refused again.
# usage: https_iface.sh RINGGATE BACKEND_PY
. "$(dirname "$0")/../lib.sh"
in_private_netns "$@"
RG=$(realpath "$1") BACKEND=$(realpath "$2")
. "$(dirname "$0")/../quic/common.sh"
cd "$RG_TMP" || fail "no temp dir"
ip link add rgh0 type veth peer name rgh0p 2>/dev/null || skip "the kernel has no veth interfaces"
ip link set rgh0p up && ip link set rgh0 up
make_cert "$RG_TMP" localhost
python3 "$BACKEND" 9001 A &
RG_PIDS+=($!)
wait_for 10 curl -sf http://127.0.0.1:9001/x -o /dev/null || fail "backend did not start"
cat >rg.ini <<INI
[appliance]
workers = 2
admin = 127.0.0.1:8082

[https]
listen = iface rgh0:4443, 127.0.0.1:4443

[vhost localhost]
cert = $RG_TMP/localhost.crt
key = $RG_TMP/localhost.key

[backend a]
server = 127.0.0.1:9001

[route api]
host = localhost
backend = a
INI
"$RG" -c rg.ini >rg.log 2>&1 &
RGPID=$!
RG_PIDS+=($RGPID)
get() { curl -sf --max-time 3 --cacert localhost.crt --resolve "localhost:4443:$1" https://localhost:4443/hi; }
wait_for 20 get 127.0.0.1 || { cat rg.log >&2; fail "no HTTPS on the static address"; }
get 10.78.0.1 && fail "served before the interface has an address"
ip addr add 10.78.0.1/24 dev rgh0
wait_for 2 get 10.78.0.1 || { cat rg.log >&2; fail "the address added is not served within 2 s"; }
[[ $(get 10.78.0.1) == "A /hi" ]] || fail "wrong answer on the interface's address"
ip addr del 10.78.0.1/24 dev rgh0
gone() { ! get 10.78.0.1; }
wait_for 2 gone || fail "the address removed is still served"
get 127.0.0.1 >/dev/null || fail "the static listener was disturbed"
rg_stop $RGPID rg.log
echo "https_iface: ok"
