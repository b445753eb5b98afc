"""startup.py: benchmark 6, process start to READY=1, and SIGHUP reload to visible.

Start: the harness takes the wall time, spawns flowd with NOTIFY_SOCKET pointing at its
own datagram socket, and timestamps the READY=1 datagram. The root holds `definitions`
workflow files and `files` spool files pre-dropped (spread evenly over the first 100
workflows); max_queued_runs is raised to `files` so that every file is claimed at start.

Reload: on the idle daemon one definition's description changes, the harness sends
SIGHUP and times (a) the READY=1 that flowd sends when the reload is done and (b) the
first `ListWorkflows` reply (Varlink, what `flowadm --json workflows` prints) that shows
the definition's new version, polling as fast as the replies come.
"""

import os
import signal

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


def reload(definitions, repeats):
    root = FlowdRoot(f"reload-{definitions}")
    write_definitions(root, definitions)
    target = f"wf-{definitions // 2:04d}"
    path = root.workflow_path(target)
    results = []
    root.start()
    try:
        for attempt in range(repeats):
            old = version_of(root, target)
            with open(path) as f:
                text = f.read()
            with open(path + ".new", "w") as f:
                f.write(text.replace("description: ", f"description: edit {attempt} ", 1))
            os.rename(path + ".new", path)
            root.drain_notify()
            root.notify.setblocking(True)
            sent = now_us()
            root.process.send_signal(signal.SIGHUP)
            polls = 0
            while True:
                polls += 1
                if version_of(root, target) != old:
                    visible = now_us()
                    break
                if polls > 100000:
                    raise RuntimeError("the changed definition never became visible")
            ready = root.wait_notify("READY=1", timeout=30)
            results.append({"to_ready_ms": (ready - sent) / 1000, "to_visible_ms": (visible - sent) / 1000,
                            "polls": polls})
        poll_start = now_us()
        for _ in range(20):
            version_of(root, target)
        poll_ms = (now_us() - poll_start) / 1000 / 20
    finally:
        root.stop()
    return {"definitions": definitions, "attempts": results, "list_workflows_ms": poll_ms}


def version_of(root, name):
    for workflow in root.varlink("ListWorkflows")["workflows"]:
        if workflow["name"] == name:
            return workflow["version"]
    return None
