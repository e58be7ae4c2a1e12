#!/usr/bin/env bash
# Installs everything the tests need, builds mailvault (warnings are errors) and
# runs the whole test suite with CTest. This is what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
build_dir=${MAILVAULT_BUILD_DIR:-build}
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMAILVAULT_WERROR=ON >/dev/null
cmake --build "$build_dir" -j2
# The browser tests drive Debian's Chromium with Playwright (playwright-core
# from npm, pinned by tests/browser/package-lock.json; no browser download).
bash scripts/install-browser-tools.sh "$build_dir/browser-node"
cd "$build_dir"
ctest --output-on-failure -j2 --timeout 900 "$@"
