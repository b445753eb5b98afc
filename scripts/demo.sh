#!/bin/sh
# demo.sh: runs flowd on a demo root with the example workflows and drops one trigger
# file, so a newcomer sees a run happen. flowd stays in the foreground; Ctrl-C stops it.
#   DEMO_ROOT   where the demo lives (default ./demo-root)
#   DEMO_SECONDS  stop by itself after this many seconds (default: run until Ctrl-C)
set -eu
cd "$(dirname "$0")/.."
root="${DEMO_ROOT:-$PWD/demo-root}"
mkdir -p "$root/etc/flowd/workflows"
cp -n etc/flowd/workflows/*.yaml "$root/etc/flowd/workflows/" 2>/dev/null || true
# The built-in connectors, where a --root daemon looks for shipped manifests.
mkdir -p "$root/usr/share/flowd/connectors"
cp etc/flowd/connectors/*.yaml "$root/usr/share/flowd/connectors/"
bin=.build/debug
flowadm="$bin/flowadm --root $root"

(
    # Wait for the daemon's control socket, then drop a file and show the run.
    i=0
    until $flowadm status >/dev/null 2>&1; do
        i=$((i + 1)); [ $i -gt 200 ] && exit 1; sleep 0.05
    done
    name="demo-$(date +%H%M%S).json"
    printf '{"name": "%s"}\n' "$(id -un)" > "$root/spool/incoming/hello/.$name"
    mv "$root/spool/incoming/hello/.$name" "$root/spool/incoming/hello/$name"
    sleep 1
    echo
    echo "==> flowadm --root $root runs"
    $flowadm runs
    run=$($flowadm runs --json --limit 1 | sed -n 's/^ *"id": \([0-9]*\),*$/\1/p' | head -n 1)
    echo
    echo "==> flowadm --root $root show $run"
    $flowadm show "$run"
    echo
    echo "flowd keeps running. In another shell, try:"
    echo "  echo '{\"name\": \"you\"}' > /tmp/t.json && mv /tmp/t.json $root/spool/incoming/hello/"
    echo "  $bin/flowadm --root $root runs"
    echo "  $bin/flowadm --root $root workflows"
    echo "Ctrl-C stops flowd."
) &

if [ -n "${DEMO_SECONDS:-}" ]; then
    (sleep "$DEMO_SECONDS"; pkill -TERM -f "flowd --root $root" || true) &
fi
exec "$bin/flowd" --root "$root"
