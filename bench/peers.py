"""peers.py: benchmark 7, the same workload as benchmark 1 through incron and Huey.

Each peer gets N files dropped the same way (write `.name`, rename to `name`); its
"workflow" runs /bin/true, moves the file to done/ and appends the name to a log, one
line per execution. runs/s = N / (time the log reached N lines - first rename); lost =
N - distinct names logged; duplicated = lines - distinct names. A peer that stops
making progress for 15 s is stopped and its counts reported as they are.

incron: incrond -n (foreground) with a private incron.conf whose system table watches
incoming/ for IN_MOVED_TO and runs bench/peers/incron-step.sh. It must run as root.
Huey: SqliteHuey, `huey_consumer -w 2 -k thread` (defaults otherwise), the producer
(bench/peers/huey_produce.py) enqueues one task per file right after dropping it.
"""

import os
import shutil
import signal
import subprocess
import sys
import time

from lib import SCRATCH, fresh_dir, now_us, drop_file

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = os.path.join(HERE, "peers")


def log_lines(path):
    try:
        with open(path) as f:
            return f.read().split()
    except FileNotFoundError:
        return []


def wait_for_log(log, files, stall_seconds=15):
    """Polls the log until it has `files` lines or stops growing. Returns (µs, lines)."""
    last_count, last_change = -1, time.monotonic()
    while True:
        lines = log_lines(log)
        stamp = now_us()
        if len(lines) >= files:
            return stamp, lines
        if len(lines) != last_count:
            last_count, last_change = len(lines), time.monotonic()
        elif time.monotonic() - last_change > stall_seconds:
            return None, lines
        time.sleep(0.01)


def counts(files, first_drop, finished, lines, prefix):
    names = [line for line in lines if line.startswith(prefix)]
    distinct = set(names)
    result = {"files": files, "executions": len(names), "lost": files - len(distinct),
              "duplicates": len(names) - len(distinct)}
    if finished is not None:
        result["seconds"] = (finished - first_drop) / 1e6
        result["runs_per_second"] = files / result["seconds"]
    return result


def stop(process):
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def incron(files):
    if shutil.which("incrond") is None:
        return {"error": "incrond is not installed (apt-get install incron)"}
    if os.geteuid() != 0:
        return {"error": "incrond needs root (system tables run commands as root)"}
    root = fresh_dir(os.path.join(SCRATCH, "incron"))
    for directory in ("incoming", "done", "tables", "lock"):
        os.makedirs(os.path.join(root, directory))
    incoming, done, log = (os.path.join(root, name) for name in ("incoming", "done", "log"))
    with open(os.path.join(root, "tables", "bench"), "w") as f:
        f.write(f"{incoming} IN_MOVED_TO {PEERS}/incron-step.sh $@ $# {done} {log}\n")
    config = os.path.join(root, "incron.conf")
    with open(config, "w") as f:
        f.write(f"system_table_dir = {root}/tables\nuser_table_dir = {root}/user-tables\n"
                f"lockfile_dir = {root}/lock\nlockfile_name = incrond-bench\n")
    os.makedirs(os.path.join(root, "user-tables"))
    process = subprocess.Popen(["incrond", "-n", "-f", config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # Ready when a probe file has gone through. incrond does not scan what is already
        # in a directory when it adds its watch, so a probe dropped too early is never
        # seen: drop a new one every 100 ms until one runs.
        deadline = time.monotonic() + 10
        probes = 0
        while not any(line.startswith("probe") for line in log_lines(log)):
            if process.poll() is not None:
                return {"error": f"incrond exited with status {process.returncode}"}
            if time.monotonic() > deadline:
                return {"error": "incrond did not run a probe within 10 s"}
            probes += 1
            drop_file(incoming, f"probe{probes}", b"x\n")
            time.sleep(0.1)
        first = None
        for index in range(files):
            stamp = drop_file(incoming, f"f{index:05d}", b"x\n")
            first = first or stamp
        finished, lines = wait_for_log(log, files + 1)
        return counts(files, first, finished, lines, "f")
    finally:
        stop(process)


def huey(files, workers):
    try:
        import huey as _  # noqa: F401
    except ImportError:
        return {"error": "huey is not installed (pip install huey)"}
    root = fresh_dir(os.path.join(SCRATCH, "huey"))
    for directory in ("incoming", "done"):
        os.makedirs(os.path.join(root, directory))
    log = os.path.join(root, "log")
    environment = dict(os.environ, HUEY_BENCH_DB=os.path.join(root, "huey.sqlite"), HUEY_BENCH_ROOT=root,
                       PYTHONPATH=PEERS)
    consumer_bin = shutil.which("huey_consumer") or "huey_consumer"
    consumer = subprocess.Popen([sys.executable, consumer_bin, "huey_tasks.huey", "-w", str(workers), "-k", "thread"],
                                env=environment, cwd=PEERS, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        subprocess.run([sys.executable, os.path.join(PEERS, "huey_produce.py"), "1", "probe"], env=environment,
                       check=True, capture_output=True)
        deadline = time.monotonic() + 20
        while "probe00000" not in log_lines(log):
            if consumer.poll() is not None or time.monotonic() > deadline:
                return {"error": "the huey consumer did not run the probe task"}
            time.sleep(0.02)
        producer = subprocess.run([sys.executable, os.path.join(PEERS, "huey_produce.py"), str(files), "f"],
                                  env=environment, check=True, capture_output=True, text=True)
        first = int(producer.stdout.strip())
        finished, lines = wait_for_log(log, files + 1)
        return counts(files, first, finished, lines, "f")
    finally:
        stop(consumer)
