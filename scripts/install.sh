#!/usr/bin/env bash
# Install Casewise into .venv: torch first (the CPU wheel pinned in pyproject), then the project.
# Browser tests drive Debian's chromium (/usr/bin/chromium): install it (and a CJK font, so
# Chinese pages render in screenshots) with apt when missing;
# no test tool ever downloads its own browser.
set -euo pipefail
cd "$(dirname "$0")/.."
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
if [ ! -x /usr/bin/chromium ] || [ ! -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]; then
  apt_get=()
  if [ "$(id -u)" -eq 0 ]; then
    apt_get=(env DEBIAN_FRONTEND=noninteractive apt-get)
  elif command -v sudo >/dev/null 2>&1; then
    apt_get=(sudo env DEBIAN_FRONTEND=noninteractive apt-get)
  fi
  if [ "${#apt_get[@]}" -gt 0 ] && command -v apt-get >/dev/null 2>&1; then
    "${apt_get[@]}" install -y -qq chromium fonts-wqy-microhei >/dev/null 2>&1 \
      || { "${apt_get[@]}" update -qq >/dev/null && "${apt_get[@]}" install -y -qq chromium fonts-wqy-microhei >/dev/null; } \
      || true
  fi
  if [ ! -x /usr/bin/chromium ]; then
    echo "install.sh: browser tests need Debian's chromium at /usr/bin/chromium:" \
         "run 'sudo apt-get install chromium' (or set CASEWISE_SKIP_BROWSER_TESTS=1 to skip them)" >&2
  fi
fi
python_bin="${PYTHON:-python3.11}"
command -v "$python_bin" >/dev/null 2>&1 || python_bin=python3
if [ ! -x .venv/bin/python ]; then
  "$python_bin" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check torch==2.13.0
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
