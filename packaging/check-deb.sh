#!/bin/sh
# check-deb.sh: builds the Debian package and checks it (make check-deb; CI runs it
# after make test): lintian must report no error and no warning (informational tags
# are overridden in packaging/debian/lintian-overrides, explained in docs/SYSTEMD.md),
# then PackagingDebTests unpack it into a scratch root and check its files, modes,
# units and binaries. Exits non-zero on the first failure.
set -eu
cd "$(dirname "$0")/.."
swift="${SWIFT:-swift}"
started=$(date +%s)
deb="$(packaging/build-deb.sh)"
echo "check-deb: built $deb in $(( $(date +%s) - started )) s ($(du -h "$deb" | cut -f1))"
lintian --pedantic --display-info --fail-on error,warning "$deb"
echo "check-deb: lintian passed"
FLOWD_DEB="$PWD/$deb" "$swift" test --filter 'EndToEndTests.Packaging'
