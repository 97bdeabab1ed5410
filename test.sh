#!/usr/bin/env bash
# Runs the test suite: bash test.sh [pytest arguments]
#   bash test.sh                         every test in tests/
#   bash test.sh tests/test_align.py     one file (paths given: only those run)
#   bash test.sh -k csls                 options only: applied to every test in tests/
# Browser tests need Debian's chromium (/usr/bin/chromium); without it they are skipped.
set -euo pipefail
CLIME_EXTRA_REQUIREMENTS=requirements-dev.txt
source "$(dirname "$0")/scripts/setup_env.sh"
paths=0
for a in "$@"; do
    case "$a" in -*) ;; *) [ -e "${a%%::*}" ] && paths=1 ;; esac
done
if [ "$paths" = 0 ]; then set -- "$@" tests; fi
exec "$VPY" -m pytest -q "$@"
