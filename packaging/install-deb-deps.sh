#!/bin/sh
# install-deb-deps.sh: installs the Debian packages `make deb` and `make check-deb`
# need beyond the build's own, when any is missing: scdoc (man pages), dpkg-dev
# (dpkg-shlibdeps), lintian, systemd (systemd-analyze, systemd-sysusers,
# systemd-tmpfiles), binutils (strip).
set -eu
exec "$(dirname "$0")/../scripts/install-build-deps.sh" scdoc dpkg-dev lintian systemd binutils
