#!/usr/bin/env bash
# Runs the netlink watcher test in a private network namespace.
. "$(dirname "$0")/../lib.sh"
in_private_netns "$@"
ip link add rgprobe type veth peer name rgprobe1 2>/dev/null || skip "the kernel has no veth interfaces"
ip link del rgprobe
exec "$1"
