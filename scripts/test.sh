#!/usr/bin/env bash
# Install and run the whole test suite (unit, integration with the real model, server and CLI).
set -uo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh || exit 1
export HF_HUB_OFFLINE=1
.venv/bin/python -m pytest "$@"
status=$?
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure here, the suite must never be empty" >&2
  exit 1
fi
exit "$status"
