#!/usr/bin/env python3
"""bench.py: runs flowd's benchmarks (issue 9) and writes BENCHMARKS.md.

    python3 bench/bench.py [--repeat N] [--only NAME,...] [--history-runs N] [--quick]

Expects the release build (`make bench` builds it first, as the .deb ships it:
swift build -c release --static-swift-stdlib).
Compiles bench/floor.c, bench/protofloor.c and bench/stamp.c into bench/results/bin,
runs each benchmark `--repeat` times (median reported, every sample kept in
bench/results/results.json), and writes BENCHMARKS.md at the top of the repository.
Scratch roots live under $BENCH_SCRATCH (default /var/tmp/flowd-bench) and are removed
at the end. Every daemon the harness starts is stopped before it exits.

Benchmarks: throughput (1 and 7: flowd, the floor, the protocol floor, incron, Huey in
the same rounds), inprocess (2: three `set:` steps), latency (3), memory (4), history
(5, with `flowadm stats`), start (6: start, SIGHUP reload, inotify hot reload).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import history  # noqa: E402
import latency  # noqa: E402
import lib  # noqa: E402
import memory  # noqa: E402
import peers  # noqa: E402
import report  # noqa: E402
import startup  # noqa: E402
import throughput  # noqa: E402

RESULTS = os.path.join(HERE, "results")
BIN = os.path.join(RESULTS, "bin")
ALL = ["throughput", "inprocess", "latency", "memory", "history", "start"]


def log(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def compile_helpers():
    os.makedirs(BIN, exist_ok=True)
    subprocess.run(["cc", "-O2", "-Wall", "-o", os.path.join(BIN, "floor"), os.path.join(HERE, "floor.c"),
                    "-lsqlite3", "-lpthread"], check=True)
    subprocess.run(["cc", "-O2", "-Wall", "-o", os.path.join(BIN, "protofloor"), os.path.join(HERE, "protofloor.c"),
                    "-lsqlite3", "-lpthread"], check=True)
    subprocess.run(["cc", "-O2", "-Wall", "-o", os.path.join(BIN, "stamp"), os.path.join(HERE, "stamp.c")], check=True)


def busy_cpus(seconds=1.0):
    """CPUs' worth of time spent outside idle over `seconds`: the load from others."""
    def sample():
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
        return sum(values), values[3] + values[4]
    total_a, idle_a = sample()
    time.sleep(seconds)
    total_b, idle_b = sample()
    return round((1 - (idle_b - idle_a) / max(total_b - total_a, 1)) * os.cpu_count(), 2)


def bench_throughput(args):
    files, workers = args.files, 2
    rounds = []
    for round_index in range(args.repeat):
        log(f"throughput round {round_index + 1}/{args.repeat} ({files} files, load {lib.loadavg()})")
        sample = {"load_before": lib.loadavg(), "busy_cpus_before": busy_cpus()}
        sample["floor"] = throughput.floor(os.path.join(BIN, "floor"), files, workers)
        sample["floor_sh"] = throughput.floor(os.path.join(BIN, "floor"), files, workers, ["/bin/sh", "-c", "/bin/true"])
        sample["protocol_floor"] = throughput.protocol_floor(os.path.join(BIN, "protofloor"), files, workers)
        sample["flowd_exec"] = throughput.flowd_live("exec", files, workers)
        sample["flowd_run"] = throughput.flowd_live("run", files, workers)
        # The floor again right after flowd: the ratio uses the mean of both floors,
        # so load that changes during the round hits both sides alike.
        sample["floor_after"] = throughput.floor(os.path.join(BIN, "floor"), files, workers)
        sample["flowd_exec_predropped"] = throughput.flowd_predropped("exec", files, workers)
        if not args.no_peers:
            sample["incron"] = peers.incron(files)
            sample["huey"] = peers.huey(files, workers)
        sample["load_after"] = lib.loadavg()
        rounds.append(sample)
        log(f"  floor {sample['floor']['runs_per_second']:.0f}/s, protocol floor "
            f"{sample['protocol_floor']['runs_per_second']:.0f}/s, flowd exec {sample['flowd_exec']['runs_per_second']:.0f}/s, "
            f"run {sample['flowd_run']['runs_per_second']:.0f}/s")
    return {"files": files, "workers": workers, "rounds": rounds}


def bench_inprocess(args):
    """Benchmark 2: the drop harness of benchmark 1, a workflow of three `set:` steps.
    `set:` steps are decided on the engine loop and hold no worker; workers 2 and
    concurrency 2 as in benchmark 1, plus concurrency 16 to show whether the workflow's
    limit is what bounds it."""
    files, workers = args.inprocess_files, 2
    rounds = []
    for round_index in range(args.repeat):
        log(f"in-process round {round_index + 1}/{args.repeat} ({files} files, load {lib.loadavg()})")
        sample = {"load_before": lib.loadavg(), "busy_cpus_before": busy_cpus()}
        sample["drop_only"] = throughput.drop_rate(files)
        sample["live"] = throughput.flowd_live("set", files, workers, concurrency=2)
        sample["live_c16"] = throughput.flowd_live("set", files, workers, concurrency=16)
        sample["predropped"] = throughput.flowd_predropped("set", files, workers, concurrency=2)
        sample["load_after"] = lib.loadavg()
        rounds.append(sample)
        log(f"  set x3: live {sample['live']['runs_per_second']:.0f}/s, c16 {sample['live_c16']['runs_per_second']:.0f}/s, "
            f"pre-dropped {sample['predropped']['runs_per_second_from_first_claim']:.0f}/s from the first claim; harness drops alone "
            f"{sample['drop_only']['files_per_second']:.0f}/s")
    return {"files": files, "workers": workers, "concurrency": 2, "rounds": rounds}


def bench_latency(args):
    rounds = []
    for round_index in range(args.repeat):
        log(f"latency round {round_index + 1}/{args.repeat} ({args.drops} drops, load {lib.loadavg()})")
        sample = latency.run(os.path.join(BIN, "stamp"), args.drops, 0.020)
        sample["load"] = lib.loadavg()
        rounds.append(sample)
    return {"rounds": rounds}


def bench_memory(args):
    rounds = []
    for round_index in range(args.repeat):
        log(f"memory round {round_index + 1}/{args.repeat}")
        rounds.append({"idle_1": memory.idle(1), "idle_1000": memory.idle(1000), "queued": memory.queued(args.queued),
                       "load": lib.loadavg()})
    return {"rounds": rounds}


def bench_history(args):
    log(f"history: {args.history_runs} runs x 5 attempts (the fill takes a while)")
    result = history.run(args.history_runs, 5, args.export_dir)
    result["load"] = lib.loadavg()
    return result


def bench_start(args):
    rounds = []
    for round_index in range(args.repeat):
        log(f"start round {round_index + 1}/{args.repeat}")
        rounds.append({"empty": startup.start(1, 0), "definitions": startup.start(1000, 0),
                       "definitions_and_files": startup.start(1000, args.queued), "load": lib.loadavg()})
    log("reload")
    reloads = {"one": startup.reload(1, 5), "thousand": startup.reload(1000, 9)}
    return {"rounds": rounds, "reload": reloads}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", default=",".join(ALL), help="comma-separated: " + ", ".join(ALL))
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--inprocess-files", type=int, default=10000)
    parser.add_argument("--drops", type=int, default=1000)
    parser.add_argument("--queued", type=int, default=10000)
    parser.add_argument("--history-runs", type=int, default=1_000_000)
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--quick", action="store_true", help="small sizes, one round: checks the harness works")
    parser.add_argument("--output", default=os.path.join(lib.REPO, "BENCHMARKS.md"))
    parser.add_argument("--keep-scratch", action="store_true")
    parser.add_argument("--results", default=RESULTS, help="where results.json goes (default bench/results)")
    args = parser.parse_args()
    if args.quick:
        (args.repeat, args.files, args.inprocess_files, args.drops, args.queued,
         args.history_runs) = 1, 200, 1000, 100, 1000, 20_000
    selected = [name.strip() for name in args.only.split(",") if name.strip()]
    for name in selected:
        if name not in ALL:
            parser.error(f"unknown benchmark {name}")
    for binary in (lib.FLOWD, lib.FLOWADM):
        if not os.access(binary, os.X_OK):
            sys.exit(f"bench: {binary} is missing: run `swift build -c release` (make bench does)")

    compile_helpers()
    os.makedirs(lib.SCRATCH, exist_ok=True)
    os.makedirs(args.results, exist_ok=True)
    results_path = os.path.join(args.results, "results.json")
    results = {}
    if os.path.exists(results_path) and set(selected) != set(ALL):
        with open(results_path) as f:
            results = json.load(f)  # keep the benchmarks not re-run this time
    results["machine"] = lib.machine()
    if "FLOWD_RELEASE_DIR" in os.environ:
        results["machine"]["commit"] = f"build in {lib.RELEASE} (FLOWD_RELEASE_DIR), harness at {results['machine']['commit']}"
    results["machine"]["busy_cpus_at_start"] = busy_cpus()
    results["machine"]["load_at_start"] = lib.loadavg()
    results["command"] = " ".join(["python3", "bench/bench.py"] + sys.argv[1:])
    runners = {"throughput": bench_throughput, "inprocess": bench_inprocess, "latency": bench_latency, "memory": bench_memory,
               "history": bench_history, "start": bench_start}
    try:
        args.export_dir = args.results
        for name in selected:
            results[name] = runners[name](args)
            results[name]["command"] = results["command"]
            results[name]["date"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
            with open(results_path, "w") as f:
                json.dump(results, f, indent=1)
    finally:
        lib.stop_all()
        if not args.keep_scratch:
            shutil.rmtree(lib.SCRATCH, ignore_errors=True)
    results["machine"]["load_at_end"] = lib.loadavg()
    with open(results_path, "w") as f:
        json.dump(results, f, indent=1)
    with open(args.output, "w") as f:
        f.write(report.render(results))
    log(f"wrote {args.output} and {results_path}")


if __name__ == "__main__":
    main()
