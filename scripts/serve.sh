#!/usr/bin/env bash
# Installs what mailvault needs, builds it, and starts the appliance on its
# embedded defaults (data in ./mailvault-data, web UI on 127.0.0.1:8080).
set -euo pipefail
cd "$(dirname "$0")/.."
MAILVAULT_DEPS=build bash scripts/install-deps.sh
build_dir=${MAILVAULT_BUILD_DIR:-build}
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build_dir" -j2 --target mailvault
exec "$build_dir/app/mailvault" serve "$@"
