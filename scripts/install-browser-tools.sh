#!/usr/bin/env bash
# Installs the browser tests' Node packages (tests/browser/package-lock.json)
# into DIR/node_modules with `npm ci`, unless that exact lock is there already.
# Usage: install-browser-tools.sh DIR
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:?usage: install-browser-tools.sh DIR}
command -v npm >/dev/null || { echo "install-browser-tools: npm is missing (Node.js)" >&2; exit 1; }
mkdir -p "$dir"
if cmp -s tests/browser/package-lock.json "$dir/package-lock.json" && [ -d "$dir/node_modules/playwright-core" ]; then
  echo "install-browser-tools: up to date in $dir"
  exit 0
fi
cp tests/browser/package.json tests/browser/package-lock.json "$dir/"
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
echo "install-browser-tools: installed in $dir"
