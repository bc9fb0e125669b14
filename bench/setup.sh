#!/usr/bin/env bash
# Installs the numpy reference's only dependency into bench/.venv (never a test dependency).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ ! -x "$here/.venv/bin/python" ]; then python3 -m venv "$here/.venv"; fi
"$here/.venv/bin/python" -c "import numpy" 2>/dev/null || "$here/.venv/bin/pip" install --quiet numpy
"$here/.venv/bin/python" -c "import numpy; print('numpy', numpy.__version__)"
