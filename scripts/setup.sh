#!/usr/bin/env bash
# Creates .venv with azure-cli and the test tools (about 90 s the first time; a no-op afterwards).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
  echo "Python 3.10 or newer is needed (found $("$PY" --version 2>&1))." >&2
  exit 2
fi
stamp=.venv/.requirements-dev.txt
if [ -x .venv/bin/python ] && cmp -s requirements-dev.txt "$stamp"; then
  exit 0
fi
"$PY" -m venv .venv
echo "Creating .venv with azure-cli and the test tools (about 90 s)..." >&2
if ! .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt > .venv/install.log 2>&1; then
  cat .venv/install.log >&2
  exit 1
fi
cp requirements-dev.txt "$stamp"
