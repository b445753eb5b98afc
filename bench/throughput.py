"""throughput.py: benchmarks 1 and 2, N spool files through a one-step workflow (1) or a
workflow of three `set:` steps (2, in-process), and the floor of benchmark 1.

flowd, live drops: the daemon is started and READY first; then the harness drops N
files as fast as it can (write `.name`, rename to `name`), and waits until the journal
has N finished runs. runs/s = N / (max(ended_at) - first rename), the rename time taken
in the harness with the journal's clock. Also reported: N / (max(ended_at) -
min(created_at)), which leaves out the time before the first claim.

flowd, pre-dropped: the N files are in incoming/ before flowd starts; runs/s = N /
(max(ended_at) - READY). No producer competes for the two CPUs.

The floor (bench/floor.c): N posix_spawn + waitpid of the same program on `workers`
threads, one SQLite row committed per spawn (WAL, synchronous=NORMAL).

The protocol floor (bench/protofloor.c): what flowd's contract requires per run, in C
and nothing more: claim rename, read the file, commit the run (queued), commit run and
attempt started, spawn with stdout/stderr pipes read to EOF (own process group), wait,
commit attempt and run finished with the done path, rename to done/; flowd's runs and
step_attempts tables and indexes. It drops the N files itself before timing (like
flowd's pre-dropped mode); its CPU time covers the timed part only.

CPU per run, which a busy machine disturbs much less than runs/s: flowd's own CPU time
(all threads, /proc/PID/stat utime + stime) from READY to the last run, and the floor's
(getrusage), each divided by N.
"""

import json
import os
import subprocess

from lib import FlowdRoot, SCRATCH, cpu_seconds, fresh_dir, wait_until, drop_file, now_us

STEP_BODIES = {
    "exec": ["exec: [/bin/true]"],
    "run": ["run: /bin/true"],
    # Benchmark 2: three in-process steps, decided on the engine loop (no spawn, no
    # worker); each is still journaled as an attempt (started + finished rows).
    "set": ['set: { a: "{{ trigger.name }}" }',
            'set: { b: "{{ steps.s0.output.a }}-b" }',
            'set: { c: "{{ steps.s1.output.b }}-c", n: 3 }'],
}


def floor(binary, files, workers, command=("/bin/true",)):
    directory = fresh_dir(os.path.join(SCRATCH, "floor"))
    output = subprocess.run([binary, os.path.join(directory, "floor.sqlite"), str(files), str(workers), *command],
                            check=True, capture_output=True, text=True).stdout
    return json.loads(output)


def protocol_floor(binary, files, workers, command=("/bin/true",)):
    directory = fresh_dir(os.path.join(SCRATCH, "protofloor"))
    output = subprocess.run([binary, os.path.join(directory, "spool"), os.path.join(directory, "journal.sqlite"), str(files),
                             str(workers), *command], check=True, capture_output=True, text=True).stdout
    return json.loads(output)


def drop_rate(files):
    """How fast the harness alone drops `files` files into a directory no daemon
    watches: the producer's own bound on a live-drop measurement."""
    directory = fresh_dir(os.path.join(SCRATCH, "drop-only"))
    first = last = None
    for index in range(files):
        last = drop_file(directory, f"f{index:05d}", b"x\n")
        first = first or last
    seconds = (now_us() - first) / 1e6
    return {"files": files, "seconds": seconds, "files_per_second": files / seconds}


def finished_runs(root):
    with root.journal() as journal:
        return journal.execute("SELECT count(*) FROM runs WHERE ended_at IS NOT NULL").fetchone()[0]


def with_cpu(result, root, cpu_at_ready):
    """Adds flowd's CPU time per run (own threads; the steps it waited for) since READY."""
    own, children = cpu_seconds(root.process.pid)
    result["cpu_ms_per_run"] = (own - cpu_at_ready[0]) * 1000 / result["files"]
    result["children_cpu_ms_per_run"] = (children - cpu_at_ready[1]) * 1000 / result["files"]
    return result


def outcome(root, files, first_drop_us, ready_us=None):
    """What the journal says once every run has finished."""
    with root.journal() as journal:
        runs, succeeded, distinct_names, first_created, last_ended = journal.execute(
            "SELECT count(*), sum(status = 'succeeded'), count(DISTINCT trigger_name), min(created_at), max(ended_at) "
            "FROM runs").fetchone()
    start = first_drop_us if first_drop_us is not None else ready_us
    done = len(os.listdir(os.path.join(root.path, "spool", "done", "t")))
    return {
        "files": files,
        "runs": runs,
        "succeeded": succeeded,
        "duplicates": runs - distinct_names,
        "lost": files - distinct_names,
        "done_files": done,
        "seconds": (last_ended - start) / 1e6,
        "runs_per_second": files / ((last_ended - start) / 1e6),
        "runs_per_second_from_first_claim": files / ((last_ended - first_created) / 1e6),
    }


def flowd_live(kind, files, workers, concurrency=None):
    """Live drops into a running, READY daemon."""
    root = FlowdRoot(f"throughput-{kind}", {"workers": workers})
    root.add_workflow("t", STEP_BODIES[kind], concurrency=concurrency or workers)
    root.start()
    cpu_at_ready = cpu_seconds(root.process.pid)
    incoming = root.incoming("t")
    try:
        first_drop = None
        for index in range(files):
            stamp = drop_file(incoming, f"f{index:05d}", b"x\n")
            first_drop = first_drop or stamp
        wait_until(lambda: finished_runs(root) >= files, timeout=600, interval=0.05, what=f"{files} finished runs")
        return with_cpu(outcome(root, files, first_drop), root, cpu_at_ready)
    finally:
        root.stop()


def flowd_predropped(kind, files, workers, concurrency=None):
    """Files in incoming/ before the daemon starts; measured from READY."""
    config = {"workers": workers}
    if files > 10_000:
        config["max_queued_runs"] = files  # the default (10,000) would leave files unclaimed at first
    root = FlowdRoot(f"throughput-pre-{kind}", config)
    root.add_workflow("t", STEP_BODIES[kind], concurrency=concurrency or workers)
    incoming = root.incoming("t")
    for index in range(files):
        drop_file(incoming, f"f{index:05d}", b"x\n")
    root.start()
    try:
        wait_until(lambda: finished_runs(root) >= files, timeout=600, interval=0.05, what=f"{files} finished runs")
        return outcome(root, files, None, ready_us=root.ready_us)
    finally:
        root.stop()
