#!/usr/bin/env bash
# Installs every Debian package mailvault needs to build, run and test.
# Idempotent; run as root on Debian 12. Set MAILVAULT_DEPS=build to skip the
# test-only packages (Dovecot, Chromium, clang for fuzzing, notmuch to compare
# search results and speed with).
set -euo pipefail

build_packages=(
  build-essential cmake pkg-config git ca-certificates
  libpoco-dev libssl-dev
  libsqlite3-dev sqlite3
  libzstd-dev zstd
  libxapian-dev xapian-tools
  libgmime-3.0-dev libcli11-dev zlib1g-dev
  # Attachment text converters (search/attachment_text.h): PDF, Word, Excel,
  # PowerPoint, RTF, OpenDocument; unzip reads .pptx slides.
  poppler-utils docx2txt xlsx2csv catdoc odt2txt unzip
  libargon2-dev
  libgtest-dev libgmock-dev googletest
)
test_packages=(
  dovecot-core dovecot-pop3d openssl
  clang-14 libclang-rt-14-dev
  chromium
  procps util-linux
  notmuch
)

packages=("${build_packages[@]}")
if [ "${MAILVAULT_DEPS:-all}" != build ]; then
  packages+=("${test_packages[@]}")
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
