#!/usr/bin/env bash
# The README's second command: install what is missing, build, and run the whole test
# suite (CTest: unit, integration and CLI tests against real files, tokens and servers).
# The tests labelled "engines" (tests/engines: PostgreSQL, radosgw, HAProxy, several server
# instances) are left out here: CI runs them in a leg of their own (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/build.sh release
cd build
ctest --output-on-failure -j "$(nproc)" --timeout 900 -LE engines
