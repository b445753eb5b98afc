"""latency.py: benchmark 3, from a file's rename into incoming/ to its first step.

The daemon is idle (READY, nothing queued). The harness drops `count` files `spacing`
seconds apart (write `.name`, take the wall time in microseconds, rename to `name`).
For each file the journal gives the run's created_at (claimed and recorded) and the
first attempt's started_at (the engine decided to start it); the step itself is
bench/stamp, which records when its process was actually running. Every latency is a
difference of CLOCK_REALTIME readings on this host.
"""

import os
import time

from lib import FlowdRoot, drop_file, percentile, wait_until


def run(stamp_binary, count, spacing, workers=2):
    root = FlowdRoot("latency", {"workers": workers})
    stamps_path = os.path.join(root.path, "stamps.txt")
    root.add_workflow("lat", [f"exec: [{stamp_binary}, {stamps_path}]"], concurrency=1)
    root.start()
    incoming = root.incoming("lat")
    renamed = {}
    try:
        time.sleep(0.5)  # let the start settle: the daemon is idle
        next_drop = time.monotonic()
        for index in range(count):
            name = f"l{index:05d}"
            renamed[name] = drop_file(incoming, name, b"x\n")
            next_drop += spacing
            pause = next_drop - time.monotonic()
            if pause > 0:
                time.sleep(pause)

        def finished():
            with root.journal() as journal:
                return journal.execute("SELECT count(*) FROM runs WHERE ended_at IS NOT NULL").fetchone()[0] >= count
        wait_until(finished, timeout=60, interval=0.05, what="every latency run to finish")
        with root.journal() as journal:
            rows = journal.execute("""
                SELECT r.trigger_name, r.created_at, a.started_at
                FROM runs r JOIN step_attempts a ON a.run_id = r.id AND a.step_index = 0 AND a.attempt = 1
                """).fetchall()
    finally:
        root.stop()
    with open(stamps_path) as f:
        running = dict((name, int(stamp)) for name, stamp in (line.split() for line in f))

    to_created = [(created - renamed[name]) / 1000 for name, created, _ in rows]
    to_started = [(started - renamed[name]) / 1000 for name, _, started in rows]
    to_running = [(running[name] - renamed[name]) / 1000 for name in renamed if name in running]

    def summary(values):
        return {"p50_ms": percentile(values, 0.50), "p99_ms": percentile(values, 0.99), "max_ms": max(values)}
    return {
        "drops": count,
        "spacing_ms": spacing * 1000,
        "journaled": len(rows),
        "rename_to_created": summary(to_created),
        "rename_to_started_at": summary(to_started),
        "rename_to_step_running": summary(to_running),
    }
