#!/bin/bash
# Builds the Debian package with CPack in a scratch directory and checks what it
# installs: the binary, the systemd unit, the configuration (data_dir in
# /var/lib/mailvault, a conffile), /var/lib/mailvault, the maintainer scripts
# and the library dependencies. Usage: check-package.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: check-package.sh BUILD_DIR}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cpack --config "$build/CPackConfig.cmake" -G DEB -B "$out" >"$out/cpack.log" 2>&1 ||
  { cat "$out/cpack.log"; exit 1; }
deb=$(ls "$out"/mailvault_*.deb)
fail() { echo "check-package: $*" >&2; exit 1; }
contents=$(dpkg-deb -c "$deb")
for path in ./usr/bin/mailvault ./lib/systemd/system/mailvault.service \
            ./etc/mailvault/mailvault.ini ./var/lib/mailvault/ \
            ./usr/share/doc/mailvault/mailvault.example.ini; do
  grep -q " $path\$" <<<"$contents" || fail "$path is not in the package"
done
# Listed into a variable first: `grep -q` in the pipe would quit early, tar
# would die of SIGPIPE and pipefail would report a missing postinst.
control=$(dpkg-deb --ctrl-tarfile "$deb" | tar -t)
grep -q '^./postinst$' <<<"$control" || fail "no postinst"
[ "$(dpkg-deb --info "$deb" conffiles)" = "/etc/mailvault/mailvault.ini" ] || fail "conffiles"
depends=$(dpkg-deb --field "$deb" Depends)
for lib in adduser libxapian libzstd libpoconet libsqlite3; do
  grep -q "$lib" <<<"$depends" || fail "Depends lacks $lib: $depends"
done
ini=$(dpkg-deb --fsys-tarfile "$deb" | tar -xO ./etc/mailvault/mailvault.ini)
grep -q '^data_dir = /var/lib/mailvault$' <<<"$ini" || fail "the packaged config keeps another data_dir"
unit=$(dpkg-deb --fsys-tarfile "$deb" | tar -xO ./lib/systemd/system/mailvault.service)
grep -q '^ExecStart=/usr/bin/mailvault --config /etc/mailvault/mailvault.ini serve$' <<<"$unit" ||
  fail "the unit does not start serve with the packaged config"
# The packaged configuration is valid for the binary in the package.
scratch="$out/root"
mkdir -p "$scratch"
dpkg-deb -x "$deb" "$scratch"
sed -i "s|^data_dir = .*|data_dir = $out/data|" "$scratch/etc/mailvault/mailvault.ini"
"$scratch/usr/bin/mailvault" --config "$scratch/etc/mailvault/mailvault.ini" init >/dev/null ||
  fail "the packaged binary rejects the packaged configuration"
echo "check-package: $(basename "$deb") is complete"
