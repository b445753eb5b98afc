#!/bin/sh
# install-deb-deps.sh: installs the Debian packages `make deb` and `make check-deb`
# need beyond the build's own (scripts/install-build-deps.sh), when any is missing:
# scdoc (man pages), dpkg-dev (dpkg-shlibdeps), lintian, systemd (systemd-analyze,
# systemd-sysusers, systemd-tmpfiles). Needs root (or sudo) only to install.
set -eu
packages="scdoc dpkg-dev lintian systemd binutils"
missing=""
for package in $packages; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing="$missing $package"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing
