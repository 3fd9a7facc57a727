#!/usr/bin/env bash
# Reload: a good change is published as a new generation to every worker;
# a broken file, or a certificate whose key does not match, is refused with
# 400 and every error as FILE:LINE, and the old generation keeps serving.
# A file change (peers_file) triggers a reload by itself (inotify).
. "$(dirname "$0")/../lib.sh"
in_private_netns "$@"
RG=$(realpath "$1") CTL=$(realpath "$2") H3=$(realpath "$3")
ADMIN=http://127.0.0.1:8082
cd "$RG_TMP" || fail "tmp"
"$CTL" certgen --cert a.pem --key a.key localhost >/dev/null || fail "certgen a"
"$CTL" certgen --cert b.pem --key b.key localhost >/dev/null || fail "certgen b"
wg genkey >tunnel.key
: >peers
write_config() { # cert key
	cat >rg.ini <<INI
[appliance]
workers = 2
admin = 127.0.0.1:8082

[quic]
listen = 127.0.0.1:4433

[vhost localhost]
cert = $RG_TMP/$1
key = $RG_TMP/$2

[tunnel]
listen = 127.0.0.1:51820
private_key_file = $RG_TMP/tunnel.key
peers_file = $RG_TMP/peers
INI
}
write_config a.pem a.key
"$RG" -c rg.ini 2>log &
pid=$!
RG_PIDS+=("$pid")
wait_for 10 curl -sf $ADMIN/health || { cat log >&2; fail "no /health"; }
gen() { curl -sf $ADMIN/status | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["config_generation"] if all(g == s["config_generation"] for g in s["worker_generations"]) else -1)'; }
gen_is() { [[ $(gen) == "$1" ]]; }
rx_total_is() { [[ $(metric_sum $ADMIN/metrics 'ringgate_rx_datagrams_total') == "$1" ]]; }
wait_for 3 gen_is 1 || fail "generation 1 at start"

# serves CERT: an HTTP/3 request that trusts only CERT succeeds
serves() {
	"$H3" --cacert "$RG_TMP/$1" --resolve localhost:4433:127.0.0.1 --connect-timeout 3 --quiet \
		https://localhost:4433/ 2>/dev/null | grep -q "summary ok=1 failed=0"
}
serves a.pem || fail "HTTP/3 with certificate a at start"
serves b.pem && fail "certificate b accepted before any reload"

# A broken file: 400, every error, old generation stays and keeps serving.
cp rg.ini good.ini
cat >>rg.ini <<'INI'
bogus_key = 1

[route nowhere]
backend = missing
INI
code=$(curl -s -o body -w '%{http_code}' -X POST $ADMIN/reload)
[[ $code == 400 ]] || fail "broken config: HTTP $code"
grep -q "rg.ini:16: " body || { cat body >&2; fail "broken config: no FILE:LINE for the unknown key"; }
grep -q "rg.ini:19: " body || { cat body >&2; fail "broken config: no FILE:LINE for the missing backend"; }
[[ $(gen) == 1 ]] || fail "a broken config replaced the running one"
before=$(metric_sum $ADMIN/metrics 'ringgate_rx_datagrams_total')
send_udp 127.0.0.1 4433 10 1200
wait_for 3 rx_total_is $((before + 10)) || fail "not serving after a refused reload"
metric_sum $ADMIN/metrics 'ringgate_reloads_total\{result="failed"\}' | grep -qx 1 || fail "failed reload not counted"

# A certificate whose key does not match: refused the same way.
write_config a.pem b.key
code=$(curl -s -o body -w '%{http_code}' -X POST $ADMIN/reload)
[[ $code == 400 ]] || fail "mismatched key: HTTP $code"
grep -qi "match" body || { cat body >&2; fail "mismatched key: the reason is not given"; }
[[ $(gen) == 1 ]] || fail "a mismatched key replaced the running config"

# A good change: generation 2 on every worker.
write_config b.pem b.key
code=$(curl -s -o body -w '%{http_code}' -X POST $ADMIN/reload)
[[ $code == 200 ]] || { cat body >&2; fail "good reload: HTTP $code"; }
wait_for 3 gen_is 2 || fail "workers not on generation 2"
# new connections get the new certificate
wait_for 5 serves b.pem || fail "certificate b not served after the reload"
serves a.pem && fail "certificate a still served after the reload"

# SIGHUP reloads too.
kill -HUP "$pid"
wait_for 3 gen_is 3 || fail "SIGHUP did not reload"

# A certificate rewritten in place reloads by itself (inotify) and is served.
"$CTL" certgen --cert c.pem --key c.key localhost >/dev/null
cp c.key b.key.new && cp c.pem b.pem.new && mv b.key.new b.key && mv b.pem.new b.pem
wait_for 5 gen_is 4 || { cat log >&2; fail "certificate change did not reload"; }
wait_for 5 serves c.pem || fail "the rewritten certificate is not served"

# Changing the peers file reloads by itself.
echo "$(wg genkey | wg pubkey) 10.8.0.2/32" >peers
wait_for 5 gen_is 5 || { cat log >&2; fail "peers_file change did not reload"; }
# A broken peers file is refused with its own FILE:LINE.
echo "garbage" >>peers
wait_for 5 grep -q "peers:2: " log || { cat log >&2; fail "broken peers_file not reported as FILE:LINE"; }
[[ $(gen) == 5 ]] || fail "a broken peers_file replaced the running config"
echo "reload: ok"
