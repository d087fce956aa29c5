#!/usr/bin/env bash
# Runs pytest and treats "no tests collected" (exit 5) as a failure with a clear message:
# a suite that silently ran nothing must not look green.
set -uo pipefail
"${VENV:-.venv}/bin/python" -m pytest "$@"
rc=$?
if [[ $rc -eq 5 ]]; then
  echo "pytest collected no tests in: $*" >&2
  exit 1
fi
exit $rc
