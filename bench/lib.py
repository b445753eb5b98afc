"""lib.py: what every benchmark needs: a flowd root, the daemon's life, clocks, stats.

FlowdRoot lays out a `flowd --root DIR` tree (configuration, workflow files), starts the
release daemon with a datagram NOTIFY_SOCKET owned by the harness (so READY=1 is
timestamped here, not guessed), talks Varlink to its control socket, reads the journal
read-only, and stops the daemon with SIGTERM. Nothing here leaves a process behind: a
daemon that does not stop within its grace is killed by pid, and every FlowdRoot is
stopped by `stop_all()` on exit.
"""

import atexit
import json
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# FLOWD_RELEASE_DIR measures another build (e.g. of another commit) with this harness.
RELEASE = os.environ.get("FLOWD_RELEASE_DIR", os.path.join(REPO, ".build", "release"))
FLOWD = os.path.join(RELEASE, "flowd")
FLOWADM = os.path.join(RELEASE, "flowadm")
SCRATCH = os.environ.get("BENCH_SCRATCH", "/var/tmp/flowd-bench")

_live_roots = []


def now_us():
    """Wall clock (CLOCK_REALTIME) in microseconds, the journal's clock."""
    return time.time_ns() // 1000


def median(values):
    return statistics.median(values) if values else None


def percentile(values, fraction):
    """Nearest-rank percentile of `values` (fraction 0..1)."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, int(-(-fraction * len(ordered) // 1)))  # ceil
    return ordered[min(rank, len(ordered)) - 1]


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def proc_status(pid, *keys):
    """Fields of /proc/PID/status in KiB, e.g. proc_status(pid, 'VmHWM', 'VmRSS')."""
    values = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name, _, rest = line.partition(":")
            if name in keys:
                values[name] = int(rest.split()[0])
    return values


def cpu_seconds(pid):
    """(own, waited-for children) CPU seconds, user + system, of process `pid`."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
    return (utime + stime) / ticks, (cutime + cstime) / ticks


def fresh_dir(path):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def drop_file(directory, name, content=b"{}\n"):
    """Writes `.name` inside `directory`, then renames it to `name` (atomic arrival).
    Returns the wall time in microseconds taken just before the rename."""
    temporary = os.path.join(directory, "." + name)
    with open(temporary, "wb") as f:
        f.write(content)
    stamp = now_us()
    os.rename(temporary, os.path.join(directory, name))
    return stamp


def wait_until(predicate, timeout, interval=0.01, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class FlowdRoot:
    """One `flowd --root DIR` tree and at most one daemon running on it."""

    def __init__(self, name, config=None):
        self.path = fresh_dir(os.path.join(SCRATCH, name))
        self.workflows_dir = os.path.join(self.path, "etc", "flowd", "workflows")
        os.makedirs(self.workflows_dir)
        self.config = {"workers": 2, "log_level": "info"}
        self.config.update(config or {})
        self.write_config()
        self.process = None
        self.notify = None
        self.log = None
        self.started_us = None
        self.ready_us = None

    # Layout

    def write_config(self):
        lines = [f"{key}: {value}" for key, value in self.config.items() if key != "journal"]
        lines.append("journal:\n  synchronous: normal")
        with open(os.path.join(self.path, "etc", "flowd", "flowd.yaml"), "w") as f:
            f.write("\n".join(lines) + "\n")

    def add_workflow(self, name, steps, concurrency=1, description=None, spool_format="raw"):
        """`steps` is a list of YAML step bodies, e.g. ["exec: [/bin/true]"]."""
        text = [f"name: {name}"]
        if description:
            text.append(f"description: {description}")
        text += ["on:", f"  spool: {{ format: {spool_format} }}", f"concurrency: {concurrency}", "steps:"]
        for index, body in enumerate(steps):
            text.append(f"  - id: s{index}")
            text += ["    " + line for line in body.splitlines()]
        with open(self.workflow_path(name), "w") as f:
            f.write("\n".join(text) + "\n")

    def workflow_path(self, name):
        return os.path.join(self.workflows_dir, name + ".yaml")

    def incoming(self, workflow):
        path = os.path.join(self.path, "spool", "incoming", workflow)
        os.makedirs(path, exist_ok=True)
        return path

    @property
    def journal_path(self):
        return os.path.join(self.path, "state", "journal.sqlite")

    @property
    def socket_path(self):
        return os.path.join(self.path, "run", "control.sock")

    # The daemon

    def start(self, timeout=60, wrapper=()):
        """Starts flowd (under `wrapper`, e.g. valgrind, when given) and waits for
        READY=1. Returns seconds from spawn to READY."""
        assert self.process is None
        notify_path = os.path.join(self.path, "notify.sock")
        if os.path.exists(notify_path):
            os.unlink(notify_path)
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(notify_path)
        # A thread reads every notification as it arrives and timestamps it. The socket
        # must never fill up: flowd sends STATUS= every 5 s, and once the receive queue
        # is full (net.unix.max_dgram_qlen, 10 here) its blocking send stops the engine
        # loop, SIGTERM included (seen in this harness before the reader existed).
        self.messages = []
        self.cursor = 0
        self.messages_changed = threading.Condition()
        self.reader = threading.Thread(target=self._read_notifications, args=(self.notify,), daemon=True)
        self.reader.start()
        environment = dict(os.environ, NOTIFY_SOCKET=notify_path)
        self.log = open(os.path.join(self.path, "flowd.log"), "ab")
        self.started_us = now_us()
        self.process = subprocess.Popen([*wrapper, FLOWD, "--root", self.path], env=environment,
                                        stdout=self.log, stderr=subprocess.STDOUT)
        _live_roots.append(self)
        self.ready_us = self.wait_notify("READY=1", timeout)
        return (self.ready_us - self.started_us) / 1e6

    def _read_notifications(self, notify):
        while True:
            try:
                message = notify.recv(4096)
            except OSError:
                return  # closed by stop()
            if not message:
                return  # shut down by stop()
            stamp = now_us()
            with self.messages_changed:
                self.messages.append((stamp, message.decode(errors="replace").split("\n")))
                self.messages_changed.notify_all()

    def wait_notify(self, line, timeout):
        """Waits for a notification holding `line` that arrived after the last one
        consumed (by wait_notify or drain_notify); returns its arrival time (µs)."""
        deadline = time.monotonic() + timeout
        with self.messages_changed:
            while True:
                while self.cursor < len(self.messages):
                    stamp, lines = self.messages[self.cursor]
                    self.cursor += 1
                    if line in lines:
                        return stamp
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.process.poll() is not None:
                    raise RuntimeError(f"flowd sent no {line} (exit status {self.process.poll()}); see {self.path}/flowd.log")
                self.messages_changed.wait(min(remaining, 0.5))

    def drain_notify(self):
        """Forgets the notifications received so far."""
        with self.messages_changed:
            self.cursor = len(self.messages)

    def hwm_kib(self):
        return proc_status(self.process.pid, "VmHWM", "VmRSS")

    def stop(self, grace=60):
        """SIGTERM, wait; SIGKILL by pid if it does not stop within `grace` seconds."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        status = self.process.returncode
        self.process = None
        try:
            self.notify.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.notify.close()
        self.reader.join(timeout=2)
        self.log.close()
        if self in _live_roots:
            _live_roots.remove(self)
        return status

    # Reading it

    def varlink(self, method, parameters=None):
        """One call to io.flowd.Control.<method>; returns the reply's parameters."""
        message = {"method": f"io.flowd.Control.{method}", "parameters": parameters or {}}
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.connect(self.socket_path)
            connection.sendall(json.dumps(message).encode() + b"\0")
            reply = b""
            while not reply.endswith(b"\0"):
                chunk = connection.recv(1 << 20)
                if not chunk:
                    break
                reply += chunk
        decoded = json.loads(reply.rstrip(b"\0"))
        if "error" in decoded:
            raise RuntimeError(f"{method}: {decoded}")
        return decoded.get("parameters", {})

    def journal(self):
        connection = sqlite3.connect(f"file:{self.journal_path}?mode=ro", uri=True, timeout=10)
        return connection

    def flowadm(self, *arguments):
        return subprocess.run([FLOWADM, "--root", self.path, *arguments], check=True,
                              capture_output=True, text=True).stdout


def stop_all():
    for root in list(_live_roots):
        root.stop(grace=10)


atexit.register(stop_all)


def machine():
    """What the report says about the host."""
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        memory_kib = int(f.readline().split()[1])
    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--", "Sources", "Package.swift"],
                           capture_output=True, text=True).stdout.strip()
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "kernel": os.uname().release,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "commit": commit + (" (Sources modified)" if dirty else ""),
        "scratch": SCRATCH,
        "scratch_fs": subprocess.run(["stat", "-f", "-c", "%T", os.path.dirname(SCRATCH)], capture_output=True,
                                     text=True).stdout.strip(),
    }
