#!/usr/bin/env bash
# Install, load the bilingual demo data, build the index and serve on 127.0.0.1:8000.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh
export HF_HUB_OFFLINE=1
.venv/bin/casewise demo
exec .venv/bin/casewise serve
