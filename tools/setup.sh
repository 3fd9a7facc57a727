#!/usr/bin/env bash
# Installs everything ringgate needs to build, test and benchmark, on
# Debian 12 (bookworm) or Debian 13 (trixie).
# Idempotent: when every package is present it only checks and returns
# (one dpkg-query call, well under a second).
# Usage: tools/setup.sh [--build-only | --quic-tests]
# --quic-tests: what building and the QUIC tests need (unit tests and the
# QUIC and HTTPS integration tests but Chromium): the Debian 13 root of CI
# (issue 20).
#
# Each release takes what it lacks from its own backports and never from
# another release's: bookworm needs bookworm-backports for ngtcp2 >= 1.11,
# nghttp3 >= 1.8 and meson >= 1.7; trixie has all three itself, and adding
# bookworm-backports there makes apt mix releases (its ngtcp2 conflicts with
# trixie's; apt exits 100).
set -euo pipefail

codename=${RINGGATE_SETUP_CODENAME:-}
if [[ -z $codename && -r /etc/os-release ]]; then
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
fi

# Packages for building the appliance, the same name on both releases.
build_pkgs=(
  build-essential pkg-config ninja-build
  liburing-dev libgnutls28-dev libmnl-dev libinih-dev zlib1g-dev libzstd-dev
  libssl-dev libsodium-dev libsystemd-dev libcap-dev
  libnghttp2-dev
)
# Packages only the test suite and benchmarks need. systemd gives
# systemd-analyze (tests/tools/install.sh verifies the unit), groff and
# man-db render the man pages there.
test_pkgs=(
  clang llvm iproute2 iputils-ping wireguard-tools python3 curl
  iperf3 procps psmisc openssl prometheus chromium
  caddy nginx linux-perf util-linux systemd groff-base man-db
  nghttp2-client haproxy libnss3-tools
  gnutls-bin
)
# caddy (HTTP/3 reverse proxy, quic-go) and nginx (the HTTP/1.1 backend) are
# the comparison of `bench/run quic`; their services are never started here.
# libnghttp2-dev (HTTP/2, datapath/https/h2.c): bookworm's 1.52.0-1+deb12u2
# and later carry the CVE-2024-28182 CONTINUATION limit and the
# CVE-2023-44487 reset rate limit; trixie's 1.64 has both upstream.
# nghttp2-client gives h2load and nghttp for the HTTP/2 tests; haproxy is
# a rival of `bench/run https`; libnss3-tools (certutil) puts the test CA in
# Chromium's NSS database (tests/https/chromium_altsvc.sh). gnutls-bin
# gives gnutls-cli, a client of tests/tls/interop.sh.

case $codename in
bookworm)
  bpo=bookworm-backports
  bpo_build_pkgs=(meson libngtcp2-dev libngtcp2-crypto-gnutls-dev libnghttp3-dev)
  # clang 14's libFuzzer and sanitizer runtimes.
  test_pkgs+=(libclang-rt-14-dev)
  # the Debian 13 root of CI (tools/debian13.sh) is made with debootstrap
  test_pkgs+=(debootstrap)
  bpo_test_pkgs=(wireguard-go ngtcp2-client ngtcp2-server libcurl4-gnutls-dev libcurl3-gnutls)
  quic_test_pkgs=(ngtcp2-client libcurl4-gnutls-dev)
  min_meson=1.7
  ;;
trixie)
  bpo=trixie-backports
  # nghttp3 1.8 and meson 1.7 are in trixie itself; ngtcp2 comes from
  # trixie-backports (1.22) because only there is libngtcp2-crypto-ossl-dev,
  # the QUIC crypto helper for OpenSSL >= 3.5 that the OpenSSL backend
  # (-Dtls=openssl, issue 20) builds on. All ngtcp2 packages come from the
  # same place: the crypto helpers pin libngtcp2-dev's exact version.
  build_pkgs+=(meson libnghttp3-dev)
  bpo_build_pkgs=(libngtcp2-dev libngtcp2-crypto-gnutls-dev libngtcp2-crypto-ossl-dev)
  # clang 19's runtimes: llvm-defaults names them libclang-rt-dev here.
  test_pkgs+=(libclang-rt-dev wireguard-go libcurl4-gnutls-dev libcurl3t64-gnutls libev4t64)
  # ngtcp2-client/-server are not in trixie-backports, and trixie's (1.11,
  # gtlsclient only, no OpenSSL client) pin libngtcp2-16 1.11, which the
  # OpenSSL backend's 1.22 replaces: apt refuses both. The CI root runs
  # Debian 12's gtlsclient instead (tools/test.sh copies it in; it needs
  # libev). trixie's curl (OpenSSL 3.5's QUIC, HTTP/3) is the PQ client.
  bpo_test_pkgs=()
  quic_test_pkgs=(libev4t64 libcurl4-gnutls-dev)
  # wg (wg genkey) and promtool (/metrics checked) for the control and
  # proxy integration tests the root runs too (reload, demo, proxy_*);
  # wireguard-go, the peer of the tunnel suite's integration tests
  quic_test_pkgs+=(wireguard-tools prometheus wireguard-go)
  min_meson=1.7
  ;;
*)
  echo "setup: Debian 12 (bookworm) or 13 (trixie) expected; this is '${codename:-unknown}'." >&2
  echo "setup: set RINGGATE_SETUP_CODENAME=bookworm|trixie to use one of their package lists." >&2
  exit 1
  ;;
esac

want=("${build_pkgs[@]}" "${bpo_build_pkgs[@]}")
case "${1:-}" in
--build-only) ;;
--quic-tests)
  # the clients of tests/quic (gtlsclient, libcurl's HTTP/3), namespaces
  want+=(iproute2 util-linux python3 procps psmisc openssl curl "${quic_test_pkgs[@]}")
  want+=(iputils-ping) # the tunnel suite's pings through the tunnel
  # the tools suite: systemd-analyze verifies the unit, groff and man-db
  # render the man pages (tests/tools/install.sh)
  want+=(systemd groff-base man-db)
  want+=(gnutls-bin) # gnutls-cli for tests/tls/interop.sh (d13-ci.sh runs suite tls)
  # nginx (backend and rival) and h2load/nghttp for the HTTPS tests and
  # `bench/run pq` in the Debian 13 root (issue 20)
  want+=(nginx nghttp2-client)
  ;;
*) want+=("${test_pkgs[@]}" "${bpo_test_pkgs[@]}") ;;
esac

# One dpkg-query for all: a package it does not know is simply not listed.
declare -A have=()
while read -r name status; do
  [[ $status == "install ok installed" ]] && have[$name]=1
done < <(dpkg-query -W -f='${Package} ${Status}\n' "${want[@]}" 2>/dev/null || true)
missing=()
for p in "${want[@]}"; do
  [[ -n ${have[$p]:-} ]] || missing+=("$p")
done
# bookworm's own meson is 1.0: check the version, not only presence.
if dpkg --compare-versions "$(dpkg-query -W -f='${Version}' meson 2>/dev/null || echo 0)" lt "$min_meson"; then
  [[ " ${missing[*]} " == *" meson "* ]] || missing+=(meson)
fi
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

bpo_set=" ${bpo_build_pkgs[*]} ${bpo_test_pkgs[*]} "
plain=() back=()
for p in "${missing[@]}"; do
  if [[ "$bpo_set" == *" $p "* ]]; then back+=("$p"); else plain+=("$p"); fi
done
if [[ ${#back[@]} -gt 0 ]] &&
  ! grep -rqs "^[^#]*$bpo" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "deb http://deb.debian.org/debian $bpo main" | $SUDO tee "/etc/apt/sources.list.d/$bpo.list" >/dev/null
fi
echo "setup ($codename): installing ${missing[*]}" >&2
# Packages such as prometheus would start their daemon on install: only
# their tools are wanted, so service starts are refused during the install.
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get update -qq
if [[ ${#plain[@]} -gt 0 ]]; then
  $SUDO apt-get install -y -qq --no-install-recommends "${plain[@]}"
fi
if [[ ${#back[@]} -gt 0 ]]; then
  $SUDO apt-get install -y -qq --no-install-recommends -t "$bpo" "${back[@]}"
fi
