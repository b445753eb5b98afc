"""report.py: turns bench/results/results.json into BENCHMARKS.md.

Figures are medians over the rounds of one `bench.py` invocation; ratios (flowd vs the
floor) are taken within each round first, then the median of the ratios. The
hand-written findings (causes of missed targets, profiles, proposed fixes) live in
bench/FINDINGS.md and are appended verbatim.
"""

import os
import statistics

HERE = os.path.dirname(os.path.abspath(__file__))


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def verdict(ok):
    return "**met**" if ok else "**missed**"


def f(value, digits=1):
    return "n/a" if value is None else f"{value:,.{digits}f}"


def section_machine(results):
    m = results["machine"]
    lines = [
        "## Machine and run",
        "",
        "| | |",
        "| --- | --- |",
        f"| CPU | {m['cpu']}, nproc {m['nproc']} |",
        f"| memory | {m['memory_gib']} GiB |",
        f"| kernel | {m['kernel']} |",
        f"| scratch | `{m['scratch']}` ({m['scratch_fs']}) |",
        f"| date | {m['date']} |",
        f"| commit | `{m['commit']}` |",
        f"| command | `make bench` = `swift build -c release --static-swift-stdlib` (the build the .deb ships) + `{results['command']}` |",
        f"| load | loadavg {m['load_at_start']} at start, {m.get('load_at_end', '?')} at end; "
        f"{m['busy_cpus_at_start']} CPUs busy with other work in the second before the run |",
        "",
    ]
    runs = [(name, results[name].get("date", "?"), results[name].get("command", "?"))
            for name in ("throughput", "inprocess", "latency", "memory", "history", "start") if name in results]
    if len({(date, command) for _, date, command in runs}) > 1:
        lines += ["The sections come from more than one invocation (`--only` keeps the others' results):", ""]
        lines += [f"- {name}: {date}, `{command}`" for name, date, command in runs]
        lines.append("")
    lines += [
        "Other engineers build and test on this 2-core machine at the same time, so absolute",
        "numbers are noisy; compare ratios within a round (each round measures flowd and its",
        "floor back to back). Raw samples: `bench/results/results.json` (not committed).",
        "",
    ]
    return lines


def section_throughput(results):
    t = results.get("throughput")
    if not t:
        return ["## 1. Throughput, process steps", "", "Not run in this invocation.", ""]
    rounds = t["rounds"]

    def rate(key):
        return med([r[key]["runs_per_second"] for r in rounds if key in r and "runs_per_second" in r[key]])

    def floor_rate(r, floor_key):
        """The floor of a round: the mean of the runs before and after flowd, when both exist."""
        if floor_key == "floor" and "floor_after" in r:
            return (r["floor"]["runs_per_second"] + r["floor_after"]["runs_per_second"]) / 2
        return r[floor_key]["runs_per_second"]

    def ratio(key, floor_key="floor"):
        return med([r[key]["runs_per_second"] / floor_rate(r, floor_key) for r in rounds])
    exec_ratio = ratio("flowd_exec")
    has_protocol = all("protocol_floor" in r for r in rounds)

    def protocol_ratio(key):
        """flowd against the protocol floor of the same round (median over rounds)."""
        if not has_protocol:
            return ""
        return f" {f(100 * med([r[key]['runs_per_second'] / r['protocol_floor']['runs_per_second'] for r in rounds]), 0)}% |"
    protocol_header = " vs protocol floor (per round; median) |" if has_protocol else ""
    protocol_rule = " ---: |" if has_protocol else ""
    blank = " |" if has_protocol else ""
    lines = [
        "## 1. Throughput, process steps (and 7. peers)",
        "",
        f"{t['files']:,} spool files through a one-step workflow, `workers: {t['workers']}`, workflow",
        f"`concurrency: {t['workers']}` (the default concurrency of 1 would leave a worker idle),",
        "`journal.synchronous: normal`. Files are dropped live into the READY daemon by the",
        "harness (write `.name`, rename to `name`); runs/s = files / (last `ended_at` in the",
        "journal - first rename). \"Pre-dropped\": the files are in `incoming/` before start,",
        "measured from READY=1. The floor is `bench/floor.c`: posix_spawn + waitpid on 2",
        "threads, one SQLite row committed per spawn (WAL, synchronous=NORMAL).",
    ]
    if has_protocol:
        lines += [
            "The protocol floor is `bench/protofloor.c`: what flowd's contract requires per run,",
            "in C, on 2 threads sharing one connection under a mutex: claim rename, read the",
            "file, commit the run (queued), commit run and attempt started, posix_spawn in its",
            "own process group with stdout and stderr pipes read to EOF, waitpid, commit attempt",
            "and run finished with the done path, rename to `done/`; flowd's `runs` and",
            "`step_attempts` tables and the six indexes on `runs`. It drops the files itself",
            "before timing, so it compares most directly with the pre-dropped row. The target",
            "is against the floor.",
        ]
    lines += [
        f"Rounds: {len(rounds)}; load before each: {', '.join(r['load_before'] for r in rounds)}.",
        "",
        "| what | runs/s (median) | vs floor (per round: vs the mean of the floor runs before and after flowd; median) | target |"
        + protocol_header,
        "| --- | ---: | ---: | --- |" + protocol_rule,
        f"| floor: spawn `/bin/true` + 1 commit (run before flowd) | {f(rate('floor'), 0)} | 100% | |" + blank,
        f"| floor: spawn `/bin/sh -c /bin/true` + 1 commit | {f(rate('floor_sh'), 0)} | "
        f"{f(100 * ratio('floor_sh'), 0)}% | |" + blank,
    ]
    if has_protocol:
        lines.append(f"| protocol floor: claim rename, 3 commits, spawn with pipes, done rename | "
                     f"{f(rate('protocol_floor'), 0)} | {f(100 * ratio('protocol_floor'), 0)}% | | 100% |")
    lines += [
        f"| flowd `exec: [/bin/true]`, live drops | {f(rate('flowd_exec'), 0)} | {f(100 * exec_ratio, 0)}% | "
        f"≥ 80% of floor: {verdict(exec_ratio >= 0.8)} |" + protocol_ratio("flowd_exec"),
        f"| flowd `run: /bin/true`, live drops | {f(rate('flowd_run'), 0)} | {f(100 * ratio('flowd_run'), 0)}% "
        f"({f(100 * ratio('flowd_run', 'floor_sh'), 0)}% of the sh floor) | ≥ 80% of floor: "
        f"{verdict(ratio('flowd_run', 'floor_sh') >= 0.8)} (vs the sh floor) |" + blank,
        f"| flowd `exec: [/bin/true]`, pre-dropped, from READY | {f(rate('flowd_exec_predropped'), 0)} | "
        f"{f(100 * ratio('flowd_exec_predropped'), 0)}% | |" + protocol_ratio("flowd_exec_predropped"),
    ]
    if any("incron" in r for r in rounds):
        for key, label in (("incron", "incron (incrond, IN_MOVED_TO → sh script: true, mv)"),
                           ("huey", "Huey 2.x SqliteHuey, 2 worker threads, subprocess /bin/true")):
            samples = [r[key] for r in rounds if key in r]
            errors = [s["error"] for s in samples if "error" in s]
            if errors:
                lines.append(f"| {label} | not measured: {errors[0]} | | |" + blank)
                continue
            lost = sum(s["lost"] for s in samples)
            duplicates = sum(s["duplicates"] for s in samples)
            lines.append(f"| {label} | {f(rate(key), 0)} | {f(100 * ratio(key), 0)}% | lost {lost}, "
                         f"duplicated {duplicates} (all rounds) |" + blank)
    cpu_floor = med([r[k]["cpu_seconds"] * 1000 / r[k]["runs"] for r in rounds for k in ("floor", "floor_after")
                     if k in r and "cpu_seconds" in r[k]])
    cpu_exec = med([r["flowd_exec"].get("cpu_ms_per_run") for r in rounds])
    cpu_run = med([r["flowd_run"].get("cpu_ms_per_run") for r in rounds])
    cpu_protocol = med([r["protocol_floor"]["cpu_seconds"] * 1000 / r["protocol_floor"]["runs"] for r in rounds
                        if "protocol_floor" in r])
    if cpu_floor and cpu_exec:
        lines += [
            "",
            "CPU time per run (user + system of the runner's own threads, not the steps'), which",
            "a busy machine disturbs far less than runs/s: on 2 cores the CPU a runner spends per",
            "run, next to the steps' own, bounds its throughput."
            + (" The protocol floor's covers its timed part" if cpu_protocol else ""),
        ]
        if cpu_protocol:
            lines.append("only (not the drop of the files before it).")
        lines += [
            "",
            "| runner | CPU ms per run | vs floor |" + (" vs protocol floor |" if cpu_protocol else ""),
            "| --- | ---: | ---: |" + (" ---: |" if cpu_protocol else ""),
            f"| floor | {f(cpu_floor, 3)} | 1.0x |" + (" |" if cpu_protocol else ""),
        ]
        if cpu_protocol:
            lines.append(f"| protocol floor | {f(cpu_protocol, 3)} | {f(cpu_protocol / cpu_floor)}x | 1.0x |")
        lines += [
            f"| flowd `exec:` | {f(cpu_exec, 3)} | {f(cpu_exec / cpu_floor)}x |"
            + (f" {f(cpu_exec / cpu_protocol)}x |" if cpu_protocol else ""),
            f"| flowd `run:` | {f(cpu_run, 3)} | {f(cpu_run / cpu_floor)}x |" + (" |" if cpu_protocol else ""),
        ]
    lines += ["", "Per round (load measured just before each round; it also changes during a round):", "",
              "| round | loadavg before | CPUs busy with other work | floor runs/s (before, after) | "
              "flowd exec runs/s | ratio |" + (" protocol floor runs/s |" if has_protocol else ""),
              "| ---: | --- | ---: | ---: | ---: | ---: |" + protocol_rule]
    for index, r in enumerate(rounds, 1):
        floors = f(r["floor"]["runs_per_second"], 0)
        if "floor_after" in r:
            floors += ", " + f(r["floor_after"]["runs_per_second"], 0)
        lines.append(f"| {index} | {r['load_before']} | {r.get('busy_cpus_before', 'n/a')} | {floors} | "
                     f"{f(r['flowd_exec']['runs_per_second'], 0)} | "
                     f"{f(100 * r['flowd_exec']['runs_per_second'] / floor_rate(r, 'floor'), 0)}% |"
                     + (f" {f(r['protocol_floor']['runs_per_second'], 0)} |" if has_protocol else ""))
    flowd_lost = sum(r[k]["lost"] + r[k]["duplicates"] for r in rounds for k in ("flowd_exec", "flowd_run"))
    lines += [
        "",
        f"flowd lost or duplicated triggers over all rounds: {flowd_lost} (runs and distinct",
        "trigger names in the journal vs files dropped; every file ended in `done/`).",
        "",
    ]
    return lines


def section_inprocess(results):
    t = results.get("inprocess")
    if not t:
        return ["## 2. Throughput, in-process steps", "", "Not run in this invocation.", ""]
    rounds = t["rounds"]

    def rate(key):
        return med([r[key]["runs_per_second"] for r in rounds if key in r])
    live = rate("live")
    cpu = med([r["live"].get("cpu_ms_per_run") for r in rounds])
    cpu16 = med([r["live_c16"].get("cpu_ms_per_run") for r in rounds if "live_c16" in r])
    bad = sum(r[k]["lost"] + r[k]["duplicates"] + (r[k]["files"] - (r[k]["succeeded"] or 0))
              for r in rounds for k in ("live", "live_c16", "predropped") if k in r)
    lines = [
        "## 2. Throughput, in-process steps",
        "",
        f"The drop harness of benchmark 1 ({t['files']:,} live drops, runs/s = files / (last `ended_at` -",
        "first rename)) through a workflow of three `set:` steps",
        "(`set: { a: \"{{ trigger.name }}\" }`, then two that read the previous step's output),",
        f"`workers: {t['workers']}`, workflow `concurrency: {t['concurrency']}` as in benchmark 1. `set:` steps are decided",
        "on the engine loop and hold no worker, so a run goes from claim to end without",
        "waiting for one; concurrency 16 is measured too, to show whether the workflow's limit",
        "bounds it. Each attempt is still journaled (started and finished rows).",
        f"Rounds: {len(rounds)}; load before each: {', '.join(r['load_before'] for r in rounds)}.",
        "",
        "| what | runs/s (median) | flowd CPU ms per run | target |",
        "| --- | ---: | ---: | --- |",
        f"| flowd, 3 × `set:`, concurrency 2, live drops | {f(live, 0)} | {f(cpu, 3)} | "
        f"≥ 5,000 runs/s: {verdict(live is not None and live >= 5000)} |",
        f"| flowd, 3 × `set:`, concurrency 16, live drops | {f(rate('live_c16'), 0)} | {f(cpu16, 3)} | |",
        f"| flowd, 3 × `set:`, concurrency 2, pre-dropped, first claim → last end (before READY: flowd "
        f"runs them during its start) | {f(med([r['predropped']['runs_per_second_from_first_claim'] for r in rounds]), 0)} | | |",
        f"| the harness alone: drops into an unwatched directory (files/s) | "
        f"{f(med([r['drop_only']['files_per_second'] for r in rounds]), 0)} | | |",
        "",
        "Per round:",
        "",
        "| round | loadavg before | CPUs busy with other work | live c2 | live c16 | pre-dropped (from first claim) |",
        "| ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for index, r in enumerate(rounds, 1):
        lines.append(f"| {index} | {r['load_before']} | {r.get('busy_cpus_before', 'n/a')} | "
                     f"{f(r['live']['runs_per_second'], 0)} | {f(r['live_c16']['runs_per_second'], 0)} | "
                     f"{f(r['predropped']['runs_per_second_from_first_claim'], 0)} |")
    lines += ["", f"Runs lost, duplicated or not succeeded over all rounds: {bad}.", ""]
    return lines


def section_latency(results):
    l = results.get("latency")
    if not l:
        return ["## 3. Latency", "", "Not run in this invocation.", ""]
    rounds = l["rounds"]

    def m(kind, key):
        return med([r[kind][key] for r in rounds])
    p50, p99 = m("rename_to_started_at", "p50_ms"), m("rename_to_started_at", "p99_ms")
    return [
        "## 3. Latency, idle daemon",
        "",
        f"{rounds[0]['drops']:,} drops {rounds[0]['spacing_ms']:.0f} ms apart into an idle daemon (one-step workflow,",
        "`exec: [bench/stamp FILE]`). The harness takes the wall time (µs) just before each",
        "rename; the journal gives the run's `created_at` and the first attempt's `started_at`;",
        "`bench/stamp` records when the step's process was actually running. Percentiles are",
        f"nearest-rank per round, then the median over {len(rounds)} rounds (loads: {', '.join(r['load'] for r in rounds)}).",
        "",
        "| from the rename to | p50 ms | p99 ms | max ms | target |",
        "| --- | ---: | ---: | ---: | --- |",
        f"| the attempt's `started_at` (journal) | {f(p50, 3)} | {f(p99, 3)} | "
        f"{f(m('rename_to_started_at', 'max_ms'), 1)} | p50 < 1 ms: {verdict(p50 < 1)}, p99 < 5 ms: {verdict(p99 < 5)} |",
        f"| the run's `created_at` (claimed, recorded) | {f(m('rename_to_created', 'p50_ms'), 3)} | "
        f"{f(m('rename_to_created', 'p99_ms'), 3)} | {f(m('rename_to_created', 'max_ms'), 1)} | |",
        f"| the step's process running (`bench/stamp`) | {f(m('rename_to_step_running', 'p50_ms'), 3)} | "
        f"{f(m('rename_to_step_running', 'p99_ms'), 3)} | {f(m('rename_to_step_running', 'max_ms'), 1)} | |",
        "",
    ]


def section_memory(results):
    mem = results.get("memory")
    if not mem:
        return ["## 4. Memory", "", "Not run in this invocation.", ""]
    rounds = mem["rounds"]

    def mib(kind, key="vmhwm_kib"):
        return med([r[kind][key] for r in rounds]) / 1024
    idle, queued = mib("idle_1000"), mib("queued")
    lines = [
        "## 4. Memory (peak RSS, VmHWM of /proc/PID/status)",
        "",
        "Idle: READY and one second idle with N generated definitions (two steps each). Queued:",
        "`workers: 1`, a `blocker` workflow running `sleep 600` holds the worker, then the files",
        "are dropped into another workflow until `GetStatus` reports them all claimed",
        f"(`max_queued_runs` = that number). Median of {len(rounds)} rounds.",
        "",
        "| state | VmHWM MiB | target |",
        "| --- | ---: | --- |",
        f"| idle, 1 definition | {f(mib('idle_1'))} | |",
        f"| idle, 1,000 definitions | {f(idle)} | < 30 MiB: {verdict(idle < 30)} |",
        f"| {rounds[0]['queued'].get('claimed', rounds[0]['queued']['queued']):,} runs claimed ({rounds[0]['queued']['queued']:,} queued, 1 waiting for the worker, the blocker running) | {f(queued)} | < 150 MiB: {verdict(queued < 150)} |",
        "",
        f"Claiming and queueing the {rounds[0]['queued'].get('claimed', rounds[0]['queued']['queued']):,} files took "
        f"{f(med([r['queued']['seconds_to_queue'] for r in rounds]), 2)} s; SIGTERM to exit then took "
        f"{', '.join(f(r['queued'].get('stop_seconds'), 1) for r in rounds)} s (shutdown_grace 1s; the harness kills by pid after 60 s).",
        "",
    ]
    mapped = [r["idle_1000"]["rss_by_mapping_kib"] for r in rounds if "rss_by_mapping_kib" in r["idle_1000"]]
    if mapped:
        def part(key):
            return med([m[key] for m in mapped]) / 1024
        lines += [
            "Where the idle RSS (VmRSS, 1,000 definitions) is, from `/proc/PID/smaps`: resident pages",
            "by mapping. flowd loads libcurl with dlopen at its first http step, so an idle daemon maps",
            "none of it; in the shipped build Foundation and the Swift runtime are inside the flowd",
            "binary (static) and count in the third row. A dynamic build (`swift build -c release`)",
            "maps libFoundation* and ICU as shared objects (second row).",
            "",
            "| mapping | resident MiB |",
            "| --- | ---: |",
            f"| FoundationNetworking + libcurl and its dependencies (dynamic builds before libcurl moved to dlopen) | {f(part('networking'))} |",
            f"| Foundation, FoundationEssentials, FoundationInternationalization, ICU (as shared objects) | {f(part('foundation'))} |",
            f"| flowd, Swift runtime, SQLite, libyaml, libsystemd, libc, ... | {f(part('other_libraries'))} |",
            f"| anonymous (heap, thread stacks; a library's relocated data counts with the library) | {f(part('anonymous'))} |",
            "",
        ]
    return lines


def section_history(results):
    h = results.get("history")
    if not h:
        return ["## 5. History at scale", "", "Not run in this invocation.", ""]
    per_run = h["bytes_per_run"]
    lines = [
        "## 5. History at scale",
        "",
        f"flowd created the schema; {h['runs']:,} runs with {h['steps']} step attempts each were inserted",
        f"with Python's sqlite3 (`bench/history.py`, {f(h['fill_seconds'], 0)} s): 20 workflows of equal size",
        "plus `rare` (1 run in 10,000), 2% failed runs, JSON payloads, short stdout tails. flowd was",
        f"restarted on it (READY after {f(h['restart_to_ready_seconds'] * 1000, 0)} ms). Each query is timed end to end",
        "(flowadm start, Varlink round trip, SQL, output) with `hyperfine -N --warmup 3 --runs 30`.",
        "",
        "| query | median ms | max ms | target |",
        "| --- | ---: | ---: | --- |",
    ]
    for name, timing in h["timings"].items():
        target = "" if name.startswith("flowadm status") else f"< 50 ms: {verdict(timing['median_ms'] < 50)}"
        lines.append(f"| `{name}` | {f(timing['median_ms'])} | {f(timing['max_ms'])} | {target} |")
    lines += [
        "",
        "`flowadm stats W` is `GetStats`: the last 1,000 finished runs of W, summarized in the",
        "daemon (success rate, min/avg/p95/max duration, most failing step, last error); without",
        "W, once per loaded workflow (21 here).",
        "",
        f"Journal size: {h['journal_bytes'] / 2**20:,.0f} MiB for {h['runs']:,} runs = **{per_run:,.0f} bytes per run**"
        f" (target < 2 KiB: {verdict(per_run < 2048)}).",
        "",
        "Query plans (`EXPLAIN QUERY PLAN` of the SQL in `JournalReader`; time of the SQL alone, first run):",
        "",
        "| query | plan | SQL ms |",
        "| --- | --- | ---: |",
    ]
    for name, plan in h["plans"].items():
        lines.append(f"| {name} | {'; '.join(plan['plan'])} | {f(plan['sql_ms'], 2)} |")
    lines.append("")
    return lines


def section_start(results):
    s = results.get("start")
    if not s:
        return ["## 6. Start and reload", "", "Not run in this invocation.", ""]
    rounds = s["rounds"]

    def ready(kind):
        return med([r[kind]["seconds_to_ready"] for r in rounds])
    full = ready("definitions_and_files")
    files = rounds[0]["definitions_and_files"]["files"]
    lines = [
        "## 6. Start and reload",
        "",
        "Start: wall time taken by the harness just before spawning flowd to the arrival of",
        "READY=1 on the harness's datagram NOTIFY_SOCKET. Median of "
        f"{len(rounds)} rounds.",
        "",
        "| start with | to READY=1 | target |",
        "| --- | ---: | --- |",
        f"| 1 definition, empty spool | {f(ready('empty') * 1000, 0)} ms | |",
        f"| 1,000 definitions, empty spool | {f(ready('definitions') * 1000, 0)} ms | |",
        f"| 1,000 definitions, {files:,} pre-dropped files (all claimed before READY) | {f(full * 1000, 0)} ms | "
        f"< 1 s: {verdict(full < 1)} |",
        "",
        "Reload: one definition's description changes (written outside `workflows/`, renamed",
        "in). SIGHUP: the harness sends SIGHUP right after the rename and times the READY=1",
        "that ends the reload and the first `ListWorkflows` reply (what `flowadm --json",
        "workflows` prints, polled directly over Varlink) showing the new version. Hot",
        "reload: no signal; from the rename to the first `ListWorkflows` reply showing the",
        "new version (inotify, flowd's 20 ms debounce included). Medians of the attempts.",
        "",
        "| definitions loaded | SIGHUP → new version visible | SIGHUP → READY=1 | hot reload: rename → new version visible | one ListWorkflows | target |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for key in ("one", "thousand"):
        r = s["reload"][key]
        visible = med([a["to_visible_ms"] for a in r["attempts"]])
        to_ready = med([a["to_ready_ms"] for a in r["attempts"]])
        hot = med([a["to_visible_ms"] for a in r.get("hot", [])])
        target = ""
        if key == "thousand":
            target = f"< 50 ms: SIGHUP {verdict(visible < 50)}"
            if hot is not None:
                target += f", hot {verdict(hot < 50)}"
        lines.append(f"| {r['definitions']:,} (n = {len(r['attempts'])}) | {f(visible)} ms | {f(to_ready)} ms | "
                     f"{f(hot)} ms | {f(r['list_workflows_ms'], 2)} ms | {target} |")
    lines.append("")
    return lines


def render(results):
    lines = [
        "# flowd benchmarks",
        "",
        "Generated by `make bench` (bench/bench.py); do not edit by hand: the findings at the end",
        "come from `bench/FINDINGS.md`. Targets are those of issue 9.",
        "",
    ]
    lines += section_machine(results)
    lines += [
        "## Commands",
        "",
        "```sh",
        "make bench                                   # the shipped release build, deps, every benchmark, this file",
        "make bench BENCH_ARGS=--quick                # small sizes, one round: checks the harness",
        "python3 bench/bench.py --only history,start  # some benchmarks; the others keep their last results",
        "python3 bench/profile.py inprocess hotreload throughput   # callgrind profiles -> bench/results/profiles/",
        "cc -O2 -o floor bench/floor.c -lsqlite3 -lpthread && ./floor /tmp/f.sqlite 2000 2 /bin/true",
        "hyperfine -N --warmup 3 --runs 30 'flowadm --root R runs --workflow w07 --limit 20'   # as bench/history.py",
        "strace -c -f -p $(pidof flowd)               # syscalls per run, while files go through",
        "```",
        "",
    ]
    lines += section_throughput(results)
    lines += section_inprocess(results)
    lines += section_latency(results)
    lines += section_memory(results)
    lines += section_history(results)
    lines += section_start(results)
    findings = os.path.join(HERE, "FINDINGS.md")
    if os.path.exists(findings):
        with open(findings) as file:
            lines.append(file.read().rstrip())
    return "\n".join(lines) + "\n"
