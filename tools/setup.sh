#!/usr/bin/env bash
# Installs everything ringgate needs to build, test and benchmark on Debian 12.
# Idempotent: when every package is present it only checks and returns.
# Usage: tools/setup.sh [--build-only]
set -euo pipefail

# Packages for building the appliance.
build_pkgs=(
  build-essential pkg-config ninja-build
  liburing-dev libgnutls28-dev libmnl-dev libinih-dev zlib1g-dev libzstd-dev
  libssl-dev libsodium-dev libsystemd-dev libcap-dev
)
# From bookworm-backports: ngtcp2 >= 1.11, nghttp3 >= 1.8, meson >= 1.7.
bpo_build_pkgs=(meson libngtcp2-dev libngtcp2-crypto-gnutls-dev libnghttp3-dev)
# Packages only the test suite and benchmarks need.
test_pkgs=(
  clang llvm libclang-rt-14-dev iproute2 iputils-ping wireguard-tools python3 curl
  iperf3 procps psmisc openssl prometheus chromium
  caddy nginx linux-perf util-linux
)
# caddy (HTTP/3 reverse proxy, quic-go) and nginx (the HTTP/1.1 backend) are
# the comparison of `bench/run quic`; their services are never started here.
bpo_test_pkgs=(wireguard-go ngtcp2-client ngtcp2-server libcurl4-gnutls-dev libcurl3-gnutls)

want=("${build_pkgs[@]}" "${bpo_build_pkgs[@]}")
if [[ "${1:-}" != "--build-only" ]]; then
  want+=("${test_pkgs[@]}" "${bpo_test_pkgs[@]}")
fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# meson from bookworm itself is 1.0: check the version, not only presence.
if dpkg --compare-versions "$(dpkg-query -W -f='${Version}' meson 2>/dev/null || echo 0)" lt 1.7; then
  missing+=(meson)
fi
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

bpo=/etc/apt/sources.list.d/bookworm-backports.list
if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "deb http://deb.debian.org/debian bookworm-backports main" | $SUDO tee "$bpo" >/dev/null
fi
echo "setup: installing ${missing[*]}" >&2
# Packages such as prometheus would start their daemon on install: only
# their tools are wanted, so service starts are refused during the install.
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get update -qq
bpo_set=" ${bpo_build_pkgs[*]} ${bpo_test_pkgs[*]} "
plain=() back=()
for p in "${missing[@]}"; do
  if [[ "$bpo_set" == *" $p "* ]]; then back+=("$p"); else plain+=("$p"); fi
done
if [[ ${#plain[@]} -gt 0 ]]; then
  $SUDO apt-get install -y -qq --no-install-recommends "${plain[@]}"
fi
if [[ ${#back[@]} -gt 0 ]]; then
  $SUDO apt-get install -y -qq --no-install-recommends -t bookworm-backports "${back[@]}"
fi
