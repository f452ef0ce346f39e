#!/usr/bin/env bash
# Creates .venv with azure-cli and the test tools (about 90 s the first time; a no-op afterwards).
# With --oldest-az: creates .venv-oldaz with the oldest azure-cli the extension supports (requirements-oldest-az.txt),
# whose az the end-to-end subset runs with (tests/run.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
venv=.venv requirements=requirements-dev.txt
if [ "${1:-}" = --oldest-az ]; then
  venv=.venv-oldaz requirements=requirements-oldest-az.txt
fi
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
  echo "Python 3.10 or newer is needed (found $("$PY" --version 2>&1))." >&2
  exit 2
fi
stamp=$venv/.$requirements
if [ -x "$venv/bin/python" ] && cmp -s "$requirements" "$stamp"; then
  exit 0
fi
"$PY" -m venv "$venv"
echo "Creating $venv from $requirements (about 90 s with a fast package index)..." >&2
if ! "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$requirements" > "$venv/install.log" 2>&1; then
  cat "$venv/install.log" >&2
  exit 1
fi
cp "$requirements" "$stamp"
