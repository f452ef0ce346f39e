#!/usr/bin/env bash
# Run a command in a private mount + network namespace: only loopback exists, and /etc/hosts is a
# private writable copy, so Azure's real host names can point at the simulator on 127.0.0.1 and any
# stray call to the internet fails at once instead of hanging or passing by luck.
set -euo pipefail
if [ "$(id -u)" != 0 ]; then
  echo "tests/netns.sh needs root (unshare -mn); the end-to-end tests cannot run without it." >&2
  exit 2
fi
hosts=$(mktemp /tmp/acrpull-hosts.XXXXXX)
printf '127.0.0.1 localhost\n' > "$hosts"
exec unshare -mn -- bash -c '
  set -e
  mount --bind "$0" /etc/hosts
  ip link set lo up
  export ACRPULL_SANDBOX=1
  exec "$@"' "$hosts" "$@"
