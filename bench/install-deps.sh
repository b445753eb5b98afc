#!/bin/sh
# install-deps.sh: what `make bench` needs besides the build: a C compiler and SQLite's
# headers (floor.c), hyperfine (query timing), incron (peer), valgrind (profiles), and
# Huey from PyPI (peer). Installs only what is missing; needs root for apt-get.
set -eu
missing=""
command -v cc >/dev/null || missing="$missing gcc"
[ -e /usr/include/sqlite3.h ] || missing="$missing libsqlite3-dev"
command -v hyperfine >/dev/null || missing="$missing hyperfine"
command -v incrond >/dev/null || missing="$missing incron"
command -v valgrind >/dev/null || missing="$missing valgrind"
if [ -n "$missing" ]; then
    echo "bench: installing$missing"
    # incron's postinst would start the daemon; the harness runs its own instance.
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
fi
python3 -c 'import huey' 2>/dev/null || python3 -m pip install --quiet huey
