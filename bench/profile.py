#!/usr/bin/env python3
"""profile.py: instruction profiles (valgrind callgrind) of the release flowd for the
benchmarks that miss their target. Instruction counts repeat run to run, unlike times
on a shared machine (`perf stat -e instructions` is not supported in this container).

    python3 bench/profile.py [reload|hotreload|start|throughput|inprocess ...]

Scenarios:
  reload      1,000 definitions loaded, then 3 SIGHUP reloads (one file changed each time)
  start       1,000 definitions and 10,000 pre-dropped spool files, start to READY
  hotreload   1,000 definitions loaded, then 3 changed files renamed into workflows/ (inotify);
              counters zeroed at READY, so only the 3 hot reloads (and idle ticks) count
  throughput  500 files dropped live through `exec: [/bin/true]`, workers 2
  inprocess   2,000 files dropped live through three `set:` steps (benchmark 2)

For each: bench/results/profiles/SCENARIO.callgrind and SCENARIO.txt, the top functions
by inclusive and by self instructions, Swift names demangled. Build first:
`swift build -c release`. Slow (valgrind runs flowd ~50x slower): a few minutes.
"""

import os
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import lib  # noqa: E402
from lib import FlowdRoot, drop_file, wait_until  # noqa: E402
from memory import write_definitions  # noqa: E402

OUT = os.path.join(HERE, "results", "profiles")


def callgrind(name, toggle=None):
    arguments = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={OUT}/{name}.callgrind"]
    if toggle:
        arguments.append(f"--toggle-collect={toggle}")
    return arguments


def finished_runs(root):
    with root.journal() as journal:
        return journal.execute("SELECT count(*) FROM runs WHERE ended_at IS NOT NULL").fetchone()[0]


def reload():
    root = FlowdRoot("profile-reload")
    write_definitions(root, 1000)
    # Collect only inside the reload (the SIGHUP handler), not the start.
    root.start(timeout=600, wrapper=callgrind("reload", toggle="*Engine*reload*"))
    try:
        path = root.workflow_path("wf-0500")
        for attempt in range(3):
            with open(path) as f:
                text = f.read()
            with open(path, "w") as f:
                f.write(text.replace("description: ", f"description: edit {attempt} ", 1))
            root.drain_notify()
            root.process.send_signal(signal.SIGHUP)
            root.wait_notify("READY=1", timeout=600)
    finally:
        root.stop(grace=600)


def hotreload():
    root = FlowdRoot("profile-hotreload")
    write_definitions(root, 1000)
    # Everything after READY: counters zeroed with callgrind_control (a toggle on the
    # watcher's closures does not work: the thunk and the closure both match and cancel).
    root.start(timeout=600, wrapper=callgrind("hotreload"))
    try:
        subprocess.run(["callgrind_control", "-z", str(root.process.pid)], check=True, capture_output=True)
        path = root.workflow_path("wf-0500")
        for attempt in range(3):
            with open(path) as f:
                text = f.read()
            staged = os.path.join(root.path, "staged.yaml")
            with open(staged, "w") as f:
                f.write(text.replace("description: ", f"description: hot {attempt} ", 1))
            os.rename(staged, path)
            time.sleep(20)  # the debounced reload, ~50x slower under valgrind
    finally:
        root.stop(grace=600)


def inprocess():
    import throughput
    files = 2000
    root = FlowdRoot("profile-inprocess", {"workers": 2})
    root.add_workflow("t", throughput.STEP_BODIES["set"], concurrency=2)
    root.start(timeout=600, wrapper=callgrind("inprocess"))
    try:
        incoming = root.incoming("t")
        for index in range(files):
            drop_file(incoming, f"f{index:05d}", b"x\n")
        wait_until(lambda: finished_runs(root) >= files, timeout=900, interval=0.2, what="runs")
    finally:
        root.stop(grace=600)


def start():
    root = FlowdRoot("profile-start", {"max_queued_runs": 10000})
    write_definitions(root, 1000)
    for index in range(10000):
        drop_file(root.incoming(f"wf-{index % 100:04d}"), f"p{index:05d}.json", b'{"n": %d}\n' % index)
    # Stop right after READY: what is profiled is the start itself (plus a little drain).
    root.config["shutdown_grace"] = "1s"
    root.write_config()
    root.start(timeout=900, wrapper=callgrind("start", toggle="*Engine*start*"))
    root.stop(grace=900)


def throughput():
    files = 500
    root = FlowdRoot("profile-throughput", {"workers": 2})
    root.add_workflow("t", ["exec: [/bin/true]"], concurrency=2)
    root.start(timeout=600, wrapper=callgrind("throughput"))
    try:
        incoming = root.incoming("t")
        for index in range(files):
            drop_file(incoming, f"f{index:05d}", b"x\n")
        wait_until(lambda: finished_runs(root) >= files, timeout=900, interval=0.2, what="runs")
    finally:
        root.stop(grace=600)


def annotate(name):
    profile = f"{OUT}/{name}.callgrind"
    demangle = shutil.which("swift-demangle") or "/opt/swift/usr/bin/swift-demangle"
    with open(f"{OUT}/{name}.txt", "w") as out:
        for inclusive in ("yes", "no"):
            out.write(f"==== {'inclusive' if inclusive == 'yes' else 'self'} ====\n")
            text = subprocess.run(["callgrind_annotate", f"--inclusive={inclusive}", "--threshold=99", profile],
                                  capture_output=True, text=True).stdout
            lines = text.splitlines()[:70]
            if os.path.exists(demangle):
                lines = subprocess.run([demangle, "--simplified"], input="\n".join(lines), capture_output=True,
                                       text=True).stdout.splitlines()
            out.write("\n".join(line[:240] for line in lines) + "\n")
    print(f"wrote {OUT}/{name}.txt")


def main():
    scenarios = {"reload": reload, "hotreload": hotreload, "start": start, "throughput": throughput,
                 "inprocess": inprocess}
    chosen = sys.argv[1:] or list(scenarios)
    os.makedirs(OUT, exist_ok=True)
    try:
        for name in chosen:
            started = time.monotonic()
            scenarios[name]()
            print(f"{name}: {time.monotonic() - started:.0f} s under valgrind")
            annotate(name)
    finally:
        lib.stop_all()


if __name__ == "__main__":
    main()
