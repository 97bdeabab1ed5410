# Sourced by run_example.sh, run_ui.sh and test.sh: creates .venv when needed and
# installs the requirements.  The CPU build of torch is installed first, pinned,
# so that the open range in requirements.txt does not pull a multi-GB CUDA build.
set -euo pipefail
CLIME_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$CLIME_ROOT"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv" >&2
    "$PY" -m venv .venv
fi
VPY="$CLIME_ROOT/.venv/bin/python"
stamp=".venv/.clime-requirements"
want="$(cat requirements.txt ${CLIME_EXTRA_REQUIREMENTS:-} 2>/dev/null | sha1sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "setup: installing requirements into .venv" >&2
    if ! "$VPY" -c "import torch" 2>/dev/null; then
        "$VPY" -m pip install -q "torch==${CLIME_TORCH_VERSION:-2.13.0}"
    fi
    "$VPY" -m pip install -q -r requirements.txt ${CLIME_EXTRA_REQUIREMENTS:+-r $CLIME_EXTRA_REQUIREMENTS}
    echo "$want" > "$stamp"
fi
export PYTHONPATH="$CLIME_ROOT${PYTHONPATH:+:$PYTHONPATH}"
