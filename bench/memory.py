"""memory.py: benchmark 4, the daemon's peak RSS (VmHWM of /proc/PID/status).

Idle with many definitions: `definitions` workflow files (two steps each, a spool
trigger), the daemon READY and left idle for a second.

With runs queued: `workers: 1`; workflow `blocker` runs `sleep 600` and takes the only
worker; then `queued` files are dropped into workflow `q` and the harness waits until
GetStatus reports them all queued (max_queued_runs is set to exactly that number).
shutdown_grace is 1s so the stop does not wait for the sleep. The wait for the queue is
bounded at 120 s.
"""

import time

from lib import FlowdRoot, drop_file, wait_until


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
    finally:
        root.stop()
    return {"definitions": definitions, "vmhwm_kib": memory["VmHWM"], "vmrss_kib": memory["VmRSS"]}


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
        wait_until(lambda: root.varlink("GetStatus")["queued"] >= count, timeout=120, interval=0.1,
                   what=f"{count} queued runs")
        seconds_to_queue = time.monotonic() - started
        status = root.varlink("GetStatus")
        memory = root.hwm_kib()
    finally:
        root.stop()
    return {"queued": status["queued"], "running": status["running"], "vmhwm_kib": memory["VmHWM"],
            "vmrss_kib": memory["VmRSS"], "vmhwm_before_kib": baseline["VmHWM"], "seconds_to_queue": seconds_to_queue}
