#!/usr/bin/env bash
# Runs the test suite: bash test.sh [pytest arguments]
# Browser tests need Debian's chromium (/usr/bin/chromium); without it they are skipped.
set -euo pipefail
CLIME_EXTRA_REQUIREMENTS=requirements-dev.txt
source "$(dirname "$0")/scripts/setup_env.sh"
exec "$VPY" -m pytest -q "$@" tests
