"""memory.py: benchmark 4, the daemon's peak RSS (VmHWM of /proc/PID/status).

Idle with many definitions: `definitions` workflow files (two steps each, a spool
trigger), the daemon READY and left idle for a second.

With runs queued: `workers: 1`; workflow `blocker` runs `sleep 600` and takes the only
worker; then `queued` files are dropped into workflow `q` and the harness waits until
GetStatus reports them all claimed (queued, or running and waiting for the worker: attempts
are pipelined two per worker; max_queued_runs is set to exactly that number).
shutdown_grace is 1s so the stop does not wait for the sleep. The wait for the queue is
bounded at 120 s.
"""

import os
import re
import subprocess
import time

from lib import FLOWD, FlowdRoot, drop_file, wait_until


def _needed(library):
    """Shared objects `library` loads (ldd), by file name."""
    output = subprocess.run(["ldd", library], capture_output=True, text=True).stdout
    return {os.path.realpath(m.group(1)) for m in re.finditer(r"=> (\S+)", output)}


def networking_libraries():
    """What linking FoundationNetworking adds to the daemon: libFoundationNetworking
    itself and the libraries it (libcurl) needs that libFoundation does not."""
    networking = next((path for path in re.findall(r"=> (\S+)", subprocess.run(
        ["ldd", FLOWD], capture_output=True, text=True).stdout) if "FoundationNetworking" in path), None)
    if networking is None:
        return set()
    foundation = os.path.realpath(os.path.join(os.path.dirname(networking), "libFoundation.so"))
    # Real paths: smaps names the files (libgnutls.so.30.34.3), ldd the sonames.
    return {os.path.realpath(networking)} | (_needed(networking) - _needed(foundation) - {foundation})


def rss_by_mapping(pid):
    """Resident KiB of the process by what is mapped: FoundationNetworking and what it
    alone brings (libcurl, gnutls, krb5, ...), the rest of Swift's Foundation and ICU,
    the other shared objects, and anonymous memory (heap, stacks)."""
    networking = networking_libraries()
    groups = {"networking": 0, "foundation": 0, "other_libraries": 0, "anonymous": 0}
    current = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            fields = line.split()
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                path = fields[5] if len(fields) > 5 else ""
                name = os.path.basename(path)
                if path in networking:
                    current = "networking"
                elif "Foundation" in name:
                    current = "foundation"
                elif path.startswith("/") and ".so" in name or path == os.path.realpath(FLOWD):
                    current = "other_libraries"
                else:
                    current = "anonymous"
            elif fields and fields[0] == "Rss:":
                groups[current] += int(fields[1])
    groups["networking_libraries"] = sorted(os.path.basename(path) for path in networking)
    return groups


def write_definitions(root, count):
    for index in range(count):
        root.add_workflow(f"wf-{index:04d}", [
            "exec: [/bin/true]\ntimeout: 30s",
            "run: echo \"processed $FLOWD_TRIGGER_NAME\"\nenv: { LC_ALL: C }",
        ], concurrency=2, description=f"generated workflow number {index}", spool_format="json")


def idle(definitions):
    root = FlowdRoot(f"memory-idle-{definitions}")
    write_definitions(root, definitions)
    root.start()
    try:
        time.sleep(1.0)
        status = root.varlink("GetStatus")
        assert status["workflows"] == definitions, status
        memory = root.hwm_kib()
        mapping = rss_by_mapping(root.process.pid)
    finally:
        root.stop()
    return {"definitions": definitions, "vmhwm_kib": memory["VmHWM"], "vmrss_kib": memory["VmRSS"],
            "rss_by_mapping_kib": mapping}


def queued(count):
    root = FlowdRoot("memory-queued", {"workers": 1, "max_queued_runs": count, "shutdown_grace": "1s"})
    root.add_workflow("blocker", ["run: sleep 600"])  # outlives any claim phase
    root.add_workflow("q", ["exec: [/bin/true]"])
    root.start()
    try:
        baseline = root.hwm_kib()
        drop_file(root.incoming("blocker"), "block", b"x\n")
        wait_until(lambda: root.varlink("GetStatus")["busy_workers"] == 1, timeout=10, what="the blocker to run")
        incoming = root.incoming("q")
        started = time.monotonic()
        for index in range(count):
            drop_file(incoming, f"q{index:05d}", b'{"n": %d}\n' % index)
        # Attempts are pipelined (two per worker): one run of q starts and waits for the
        # worker behind the blocker, so it counts as running, not queued.
        wait_until(lambda: claimed(root) >= count, timeout=120, interval=0.1, what=f"{count} claimed runs")
        seconds_to_queue = time.monotonic() - started
        status = root.varlink("GetStatus")
        memory = root.hwm_kib()
    finally:
        stopping = time.monotonic()
        root.stop()
        stop_seconds = time.monotonic() - stopping
    return {"queued": status["queued"], "running": status["running"], "claimed": status["queued"] + status["running"] - 1,
            "vmhwm_kib": memory["VmHWM"], "vmrss_kib": memory["VmRSS"], "vmhwm_before_kib": baseline["VmHWM"],
            "seconds_to_queue": seconds_to_queue, "stop_seconds": stop_seconds}


def claimed(root):
    status = root.varlink("GetStatus")
    return status["queued"] + status["running"] - 1  # the blocker
