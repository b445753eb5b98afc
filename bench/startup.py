"""startup.py: benchmark 6, process start to READY=1, SIGHUP reload and inotify hot
reload to visible.

Start: the harness takes the wall time, spawns flowd with NOTIFY_SOCKET pointing at its
own datagram socket, and timestamps the READY=1 datagram. The root holds `definitions`
workflow files and `files` spool files pre-dropped (spread evenly over the first 100
workflows); max_queued_runs is raised to `files` so that every file is claimed at start.

Reload: on the idle daemon one definition's description changes, the harness sends
SIGHUP and times (a) the READY=1 that flowd sends when the reload is done and (b) the
first `ListWorkflows` reply (Varlink, what `flowadm --json workflows` prints) that shows
the definition's new version, polling as fast as the replies come. The changed file is
written outside workflows/ and renamed in, so it is one inotify event; flowd's hot
reload (debounced, 20 ms after the last event) would follow the SIGHUP, so after each
attempt the harness waits for it to pass before the next one.

Hot reload: the same change, renamed into workflows/ with no signal; timed from the
rename to the first `ListWorkflows` reply showing the new version. Includes flowd's
debounce (Engine.reloadDebounce, 20 ms at the time of writing).
"""

import os
import signal
import time

from lib import FlowdRoot, drop_file, now_us
from memory import write_definitions


def start(definitions, files):
    config = {"max_queued_runs": max(files, 1), "shutdown_grace": "5s"}
    root = FlowdRoot(f"start-{definitions}-{files}", config)
    write_definitions(root, definitions)
    spread = min(definitions, 100)
    for index in range(files):
        drop_file(root.incoming(f"wf-{index % spread:04d}"), f"p{index:05d}.json", b'{"n": %d}\n' % index)
    try:
        seconds = root.start()
        status = root.varlink("GetStatus")
    finally:
        root.stop()
    return {"definitions": definitions, "files": files, "seconds_to_ready": seconds,
            "claimed_at_ready": status["queued"] + status["running"]}


def stage_change(root, path, attempt, label):
    """Writes the edited definition next to the root (not in workflows/, which is
    watched) and returns the staged path; renaming it over `path` is one event."""
    with open(path) as f:
        text = f.read()
    staged = os.path.join(root.path, os.path.basename(path) + ".staged")
    with open(staged, "w") as f:
        f.write(text.replace("description: ", f"description: {label} {attempt} ", 1))
    return staged


def wait_visible(root, target, old):
    polls = 0
    while True:
        polls += 1
        if version_of(root, target) != old:
            return now_us(), polls
        if polls > 100000:
            raise RuntimeError("the changed definition never became visible")


def reload(definitions, repeats, hot=True):
    root = FlowdRoot(f"reload-{definitions}")
    write_definitions(root, definitions)
    target = f"wf-{definitions // 2:04d}"
    path = root.workflow_path(target)
    results, hot_results = [], []
    root.start()
    try:
        for attempt in range(repeats):
            old = version_of(root, target)
            staged = stage_change(root, path, attempt, "edit")
            os.rename(staged, path)
            root.drain_notify()
            sent = now_us()
            root.process.send_signal(signal.SIGHUP)
            visible, polls = wait_visible(root, target, old)
            ready = root.wait_notify("READY=1", timeout=30)
            results.append({"to_ready_ms": (ready - sent) / 1000, "to_visible_ms": (visible - sent) / 1000,
                            "polls": polls})
            time.sleep(0.5)  # the debounced hot reload the rename also caused passes
        for attempt in range(repeats if hot else 0):
            old = version_of(root, target)
            staged = stage_change(root, path, attempt, "hot")
            renamed = now_us()
            os.rename(staged, path)
            visible, polls = wait_visible(root, target, old)
            hot_results.append({"to_visible_ms": (visible - renamed) / 1000, "polls": polls})
            time.sleep(0.3)
        poll_start = now_us()
        for _ in range(20):
            version_of(root, target)
        poll_ms = (now_us() - poll_start) / 1000 / 20
    finally:
        root.stop()
    return {"definitions": definitions, "attempts": results, "hot": hot_results, "list_workflows_ms": poll_ms}


def version_of(root, name):
    for workflow in root.varlink("ListWorkflows")["workflows"]:
        if workflow["name"] == name:
            return workflow["version"]
    return None
