"""history.py: benchmark 5, flowadm queries on a journal with a million runs.

flowd creates the schema (started once on the root, stopped), then this module inserts
`runs` runs with `steps` step attempts each straight into the journal with Python's
sqlite3, in the shape flowd writes them: 20 workflows of even size plus one rare
workflow (`rare`, 1 run in 10,000), 2% failed runs (failed at a random step, the
following steps absent), a JSON payload, a spool path in done/, and short stdout tails
("processed N records"). flowd is restarted on the filled journal and the queries are
timed end to end (flowadm process start, Varlink round trip, SQL, output) with
hyperfine. EXPLAIN QUERY PLAN is recorded for the SQL behind each query
(Sources/DaemonCore/Journal/JournalReader.swift).
"""

import json
import os
import random
import shutil
import sqlite3
import subprocess
import time

from lib import FLOWADM, FlowdRoot

WORKFLOWS = [f"w{index:02d}" for index in range(20)]
STEP_IDS = ["fetch", "unpack", "check", "load", "notify"]
HASH = "5f2b0c1de9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2"

RUNS_SQL = ("SELECT id, workflow, definition_hash, status, trigger_kind, trigger_name, created_at, started_at, "
            "ended_at, failed_step, error FROM runs {where} ORDER BY id DESC LIMIT ?")
SHOW_SQL = [
    "SELECT id, workflow, definition_hash, status, trigger_kind, trigger_name, spool_path, payload, created_at, "
    "started_at, ended_at, failed_step, error FROM runs WHERE id = ?",
    "SELECT step_index, step_id, attempt, status, started_at, ended_at, exit_code, signal, stdout_tail, "
    "stderr_tail, stdout_bytes, stderr_bytes, error FROM step_attempts WHERE run_id = ? ORDER BY step_index, attempt",
]

STATS_SQL = ("SELECT status, started_at, ended_at, failed_step, error, id FROM runs "
             "WHERE workflow = ? AND ended_at IS NOT NULL ORDER BY id DESC LIMIT ?")


def fill(journal_path, runs, steps):
    """Appends `runs` runs to the journal. Returns seconds taken."""
    generator = random.Random(42)
    started = time.monotonic()
    connection = sqlite3.connect(journal_path, isolation_level=None)
    connection.execute("PRAGMA synchronous = OFF")
    connection.execute("BEGIN")
    base = 1_700_000_000_000_000
    batch_runs, batch_attempts = [], []
    for run_id in range(1, runs + 1):
        workflow = "rare" if run_id % 10_000 == 0 else WORKFLOWS[run_id % len(WORKFLOWS)]
        created = base + run_id * 30_000_000
        failed_at = generator.randrange(steps) if generator.random() < 0.02 else None
        name = f"upload-{run_id:07d}.json"
        clock = created + 150
        for index in range(steps if failed_at is None else failed_at + 1):
            duration = generator.randrange(2_000, 900_000)
            failed = index == failed_at
            records = generator.randrange(10, 100_000)
            stdout = "" if failed else f"processed {records} records from {name}\n"
            stderr = f"{STEP_IDS[index]}: connection refused\n" if failed else ""
            # kind, input and output as flowd writes them for an `exec:` step (text output =
            # the stdout tail as a JSON string), so bytes per run reflect today's rows.
            command = json.dumps({"exec": [f"/usr/local/bin/{STEP_IDS[index]}", name], "cwd": None})
            batch_attempts.append((run_id, index, STEP_IDS[index], 1, "failed" if failed else "succeeded", clock,
                                   clock + duration, 1 if failed else 0, None, stdout, stderr, len(stdout),
                                   len(stderr), "exited with status 1" if failed else None,
                                   "exec", command, "null" if failed else json.dumps(stdout), 0))
            clock += duration + 200
        status = "succeeded" if failed_at is None else "failed"
        batch_runs.append((run_id, workflow, HASH, status, "spool", name, f"/var/spool/flowd/done/{workflow}/{run_id}.{name}",
                           json.dumps({"file": name, "size": generator.randrange(1, 1 << 20), "user": "alice"}),
                           created, created + 150, clock, None if failed_at is None else STEP_IDS[failed_at],
                           None if failed_at is None else "exited with status 1"))
        if len(batch_runs) == 20_000:
            flush(connection, batch_runs, batch_attempts)
    flush(connection, batch_runs, batch_attempts)
    connection.execute("COMMIT")
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    return time.monotonic() - started


# Named columns: later migrations add columns (left NULL here, as for these runs).
RUN_COLUMNS = ("id, workflow, definition_hash, status, trigger_kind, trigger_name, spool_path, payload, created_at, "
               "started_at, ended_at, failed_step, error")
ATTEMPT_COLUMNS = ("run_id, step_index, step_id, attempt, status, started_at, ended_at, exit_code, signal, "
                   "stdout_tail, stderr_tail, stdout_bytes, stderr_bytes, error, kind, input, output, retry_expected")


def flush(connection, batch_runs, batch_attempts):
    connection.executemany(f"INSERT INTO runs ({RUN_COLUMNS}) VALUES ({', '.join('?' * 13)})", batch_runs)
    connection.executemany(f"INSERT INTO step_attempts ({ATTEMPT_COLUMNS}) VALUES ({', '.join('?' * 18)})",
                           batch_attempts)
    batch_runs.clear()
    batch_attempts.clear()


def hyperfine(commands, export_path, runs=30):
    """Times `commands` (name -> argv) with hyperfine; returns name -> {median_ms, ...}."""
    if shutil.which("hyperfine") is None:
        return {name: timed(argv, runs) for name, argv in commands.items()}
    arguments = ["hyperfine", "-N", "--warmup", "3", "--runs", str(runs), "--export-json", export_path, "--style", "none"]
    for name, argv in commands.items():
        arguments += ["--command-name", name, " ".join(argv)]
    subprocess.run(arguments, check=True, stdout=subprocess.DEVNULL)
    with open(export_path) as f:
        results = json.load(f)["results"]
    return {result["command"]: {"median_ms": result["median"] * 1000, "mean_ms": result["mean"] * 1000,
                                "max_ms": result["max"] * 1000} for result in results}


def timed(argv, runs):
    """hyperfine's stand-in: median of `runs` timed executions."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"median_ms": times[len(times) // 2], "mean_ms": sum(times) / len(times), "max_ms": times[-1]}


def run(runs, steps, export_dir):
    root = FlowdRoot("history")
    for workflow in WORKFLOWS + ["rare"]:
        root.add_workflow(workflow, ["exec: [/bin/true]"] * steps)
    root.start()
    root.stop()
    schema = schema_of(root.journal_path)
    fill_seconds = fill(root.journal_path, runs, steps)
    journal_bytes = sum(os.path.getsize(root.journal_path + suffix) for suffix in ("", "-wal")
                        if os.path.exists(root.journal_path + suffix))
    restart_seconds = root.start(timeout=120)
    middle = runs // 2
    base = [FLOWADM, "--root", root.path]
    commands = {
        "flowadm status (client + round trip only)": base + ["status"],
        "flowadm runs --limit 20": base + ["runs", "--limit", "20"],
        "flowadm runs --workflow w07 --limit 20": base + ["runs", "--workflow", "w07", "--limit", "20"],
        "flowadm --json runs --workflow w07 --limit 20": base + ["--json", "runs", "--workflow", "w07", "--limit", "20"],
        "flowadm runs --workflow rare --limit 20": base + ["runs", "--workflow", "rare", "--limit", "20"],
        "flowadm runs --status failed --limit 20": base + ["runs", "--status", "failed", "--limit", "20"],
        "flowadm runs --workflow w07 --status failed --limit 20":
            base + ["runs", "--workflow", "w07", "--status", "failed", "--limit", "20"],
        "flowadm runs --workflow rare --status succeeded --limit 20":
            base + ["runs", "--workflow", "rare", "--status", "succeeded", "--limit", "20"],
        f"flowadm show {middle}": base + ["show", str(middle)],
        f"flowadm --json show {middle}": base + ["--json", "show", str(middle)],
        # GetStats: the last 1,000 finished runs of the workflow (JournalReader.statistics).
        "flowadm stats w07": base + ["stats", "w07"],
        "flowadm stats w07 --json": base + ["stats", "w07", "--json"],
        "flowadm stats rare": base + ["stats", "rare"],
        "flowadm stats (all 21 workflows)": base + ["stats"],
    }
    try:
        timings = hyperfine(commands, os.path.join(export_dir, "history-hyperfine.json"))
    finally:
        root.stop()
    plans = query_plans(root.journal_path, middle)
    return {"runs": runs, "steps": steps, "schema": schema, "fill_seconds": fill_seconds, "journal_bytes": journal_bytes,
            "bytes_per_run": journal_bytes / runs, "restart_to_ready_seconds": restart_seconds,
            "timings": timings, "plans": plans}


def schema_of(journal_path):
    """Columns flowd's migrations created, per table (the fill names its columns; the
    others stay NULL or take their defaults). Kept in results.json."""
    connection = sqlite3.connect(f"file:{journal_path}?mode=ro", uri=True)
    tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    schema = {table: [row[1] for row in connection.execute(f"PRAGMA table_info({table})")] for table in tables}
    connection.close()
    return schema


def query_plans(journal_path, run_id):
    connection = sqlite3.connect(f"file:{journal_path}?mode=ro", uri=True)
    cases = {
        "runs": (RUNS_SQL.format(where=""), [20]),
        "runs --workflow w07": (RUNS_SQL.format(where="WHERE workflow = ?"), ["w07", 20]),
        "runs --status failed": (RUNS_SQL.format(where="WHERE status = ?"), ["failed", 20]),
        "runs --workflow w07 --status failed": (RUNS_SQL.format(where="WHERE workflow = ? AND status = ?"),
                                                ["w07", "failed", 20]),
        "runs --workflow rare --status succeeded": (RUNS_SQL.format(where="WHERE workflow = ? AND status = ?"),
                                                    ["rare", "succeeded", 20]),
        "show (run)": (SHOW_SQL[0], [run_id]),
        "show (attempts)": (SHOW_SQL[1], [run_id]),
        "stats w07": (STATS_SQL, ["w07", 1000]),
        "stats rare": (STATS_SQL, ["rare", 1000]),
    }
    plans = {}
    for name, (sql, arguments) in cases.items():
        plan = connection.execute("EXPLAIN QUERY PLAN " + sql, arguments).fetchall()
        started = time.perf_counter()
        connection.execute(sql, arguments).fetchall()
        plans[name] = {"plan": [row[3] for row in plan], "sql_ms": (time.perf_counter() - started) * 1000}
    connection.close()
    return plans
