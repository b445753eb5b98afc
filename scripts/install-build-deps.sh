#!/bin/sh
# install-build-deps.sh [PACKAGE...]: installs the Debian packages flowd's build and
# tests need (or the ones named), when any is missing. Needs root (or sudo) only when
# something must be installed. libcurl4 is not linked but loaded by http steps (and
# their tests) at run time.
set -eu
packages="${*:-libyaml-dev libsystemd-dev libsqlite3-dev pkg-config libcurl4}"
missing=""
for package in $packages; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing="$missing $package"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing
