# Sourced by run_example.sh, run_ui.sh and test.sh: creates .venv when needed and
# installs the requirements.  The CPU build of torch is installed first, pinned,
# so that the open range in requirements.txt does not pull a multi-GB CUDA build.
# Each requirements file has its own stamp in .venv, so test.sh (which also needs
# requirements-dev.txt) and run_example.sh (which does not) never undo each other.
set -euo pipefail
CLIME_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$CLIME_ROOT"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv and installing the requirements (once; about a minute)" >&2
    "$PY" -m venv .venv
fi
VPY="$CLIME_ROOT/.venv/bin/python"
clime_need=()
for req in requirements.txt ${CLIME_EXTRA_REQUIREMENTS:-}; do
    [ -f "$req" ] || continue
    stamp=".venv/.clime-stamp-$(basename "$req")"
    want="$(sha1sum "$req" | cut -d' ' -f1)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        clime_need+=("$req")
    fi
done
if [ "${#clime_need[@]}" -gt 0 ]; then
    echo "setup: installing ${clime_need[*]} into .venv" >&2
    if ! "$VPY" -c "import torch" 2>/dev/null; then
        "$VPY" -m pip install -q "torch==${CLIME_TORCH_VERSION:-2.13.0}"
    fi
    clime_args=()
    for req in "${clime_need[@]}"; do clime_args+=(-r "$req"); done
    "$VPY" -m pip install -q "${clime_args[@]}"
    for req in "${clime_need[@]}"; do
        sha1sum "$req" | cut -d' ' -f1 > ".venv/.clime-stamp-$(basename "$req")"
    done
fi
export PYTHONPATH="$CLIME_ROOT${PYTHONPATH:+:$PYTHONPATH}"
