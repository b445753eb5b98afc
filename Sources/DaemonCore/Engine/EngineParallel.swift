// EngineParallel.swift: foreach with `parallel: N` greater than 1.
//
// Each item runs as a branch: an ActiveRun of its own under a negative engine key
// (ItemBranchKey) that encodes the run and the item, holding one frame (the foreach
// body for that item) and its own current step. Branches walk with the same advance(),
// attempts, waits and workers as runs do, so a branch's process steps queue for a
// worker like any run's, taking turns with other runs (takeReadyAttempt). The run
// itself keeps the foreach as its current step until every started item has ended.
// Step indexes come from the run's counter, so the journal holds one
// execution order; each branch attempt's row also records its item (the writes are
// rewritten from the branch key to the run in RunJournal.submit), which is how
// recovery gives every item back its own recorded steps.
//
// An item failing stops new items from starting (unless the foreach has
// continue_on_error); the foreach ends when the items in flight have ended. Its output
// is the list of each item's last output in item order (null for an item that failed
// or never started).
// Branches of a branch are not made: a parallel foreach inside a parallel body runs
// its items one at a time.

/// The engine key of an item branch: a negative number encoding the run and the item.
enum ItemBranchKey {
    /// More than max_items' upper bound (1,000,000).
    static let itemsPerRun: Int64 = 1 << 20

    static func make(run: Int64, item: Int) -> Int64 { -(run * itemsPerRun + Int64(item) + 1) }

    static func split(_ key: Int64) -> (run: Int64, item: Int)? {
        guard key < 0 else { return nil }
        let value = -key - 1
        return (value / itemsPerRun, Int(value % itemsPerRun))
    }

    /// The run a key belongs to (itself for a run).
    static func run(of key: Int64) -> Int64 { split(key)?.run ?? key }
}

/// The progress of a parallel foreach on the run executing it.
struct ParallelForeach: Sendable {
    var step: StepDefinition
    var body: [StepDefinition]
    var items: [JSONValue]
    var limit: Int
    var next = 0
    var running: Set<Int> = []
    var outputs: [JSONValue]
    var firstFailedItem: Int?
    /// After a restart: each item's recorded step executions.
    var recordedByItem: [Int: [RecordedStep]] = [:]
}

extension JournalWrite {
    /// True for a write made under an item branch's key (rewritten by forParallelItems).
    /// Every kind of write is named, so that a new one must say whether a branch makes it
    /// (the pid of an item's process was once journaled under no run's row).
    var isFromParallelItem: Bool {
        switch self {
        case .attemptStarted(let key, _, _, _, _, _, _, _), .runStatus(let key, _), .attemptProcess(let key, _, _, _, _): key < 0
        case .attemptFinished(let end): end.runID < 0
        case .event(let event): (event.runID ?? 0) < 0
        // Run-level writes and the daemon's own: the engine makes them under the run's id.
        case .definitionLoaded, .runCreated, .runStarted, .workflowPaused, .runFinished, .runSpoolPath, .scheduleFired,
             .runningAttemptsInterrupted, .runsPruned, .attemptItem: false
        }
    }

    /// A branch's writes as the run's: the run's id, the item on attempt rows; an
    /// item's waits do not change the run's status.
    var forParallelItems: [JournalWrite] {
        switch self {
        case .attemptStarted(let key, let stepIndex, let stepID, let attempt, let at, let kind, let input, let wakeAt):
            guard let (run, item) = ItemBranchKey.split(key) else { return [self] }
            return [.attemptStarted(runID: run, stepIndex: stepIndex, stepID: stepID, attempt: attempt, at: at, kind: kind, input: input,
                                    wakeAt: wakeAt),
                    .attemptItem(runID: run, stepIndex: stepIndex, attempt: attempt, item: item)]
        case .attemptFinished(var end):
            end.runID = ItemBranchKey.run(of: end.runID)
            return [.attemptFinished(end)]
        case .attemptProcess(let key, let stepIndex, let attempt, let pid, let startTime) where key < 0:
            return [.attemptProcess(runID: ItemBranchKey.run(of: key), stepIndex: stepIndex, attempt: attempt, pid: pid, startTime: startTime)]
        case .runStatus(let key, let status) where key < 0:
            // An item that needs an operator makes the run need one; the engine journals
            // the run's other states itself.
            return status == "interrupted" ? [.runStatus(runID: ItemBranchKey.run(of: key), status: status)] : []
        case .event(var event):
            event.runID = event.runID.map(ItemBranchKey.run(of:))
            return [.event(event)]
        default:
            return [self]
        }
    }
}

extension Engine {
    /// Enters a foreach's items: on branches when it runs items in parallel, else one
    /// frame at a time.
    func enterForeachItems(_ runID: Int64, step: StepDefinition, loop foreach: ForeachStep, items: [JSONValue]) {
        guard var run = runs[runID] else { return }
        guard foreach.parallel > 1, run.branchOf == nil, !items.isEmpty else {
            return enterForeach(runID, step: step, loop: foreach, items: items)
        }
        var state = ParallelForeach(step: step, body: foreach.steps, items: items, limit: foreach.parallel,
                                    outputs: Array(repeating: .null, count: items.count))
        if !run.recorded.isEmpty {
            // Recovery: the body's rows follow the foreach's own row, each with its item.
            let body = Self.stepIDs(in: foreach.steps)
            let rows = Array(run.recorded.prefix { body.contains($0.stepID) })
            if rows.contains(where: { $0.item == nil }) {
                // Recorded by a flowd that ran the items one at a time: walk them so.
                return enterForeach(runID, step: step, loop: foreach, items: items)
            }
            run.recorded.removeFirst(rows.count)
            for row in rows { state.recordedByItem[row.item ?? 0, default: []].append(row) }
        }
        run.parallel = state
        runs[runID] = run
        startItems(runID)
    }

    /// Starts items while the limit allows; ends the foreach when nothing is left to do.
    func startItems(_ runID: Int64) {
        while var run = runs[runID], var state = run.parallel {
            let stopping = (state.firstFailedItem != nil && !state.step.continueOnError) || run.cancelRequested
            if state.running.isEmpty && (state.next >= state.items.count || stopping) {
                run.parallel = nil
                if run.state == .waiting {
                    run.state = .running
                    journal.submit([.runStatus(runID: runID, status: "running")])
                }
                runs[runID] = run
                let error = state.firstFailedItem.map { "foreach: item \($0) failed" }
                stepEnded(runID, status: error == nil ? "succeeded" : "failed", output: .array(state.outputs), exitCode: nil, error: error)
                advance(runID)
                return
            }
            guard phase == .running, !stopping, state.next < state.items.count, state.running.count < state.limit else { return }
            if run.pauseRequested { return settleParallelPause(runID) }
            let item = state.next
            state.next += 1
            state.running.insert(item)
            run.parallel = state
            runs[runID] = run
            var branch = run
            branch.branchOf = runID
            branch.parallel = nil
            branch.current = nil
            branch.runTimer = nil
            branch.state = .running
            branch.pauseRequested = false
            branch.recorded = state.recordedByItem[item] ?? []
            branch.frames = [Frame(steps: state.body, kind: .foreach(stepID: state.step.id, items: state.items, index: item))]
            let key = ItemBranchKey.make(run: runID, item: item)
            runs[key] = branch
            advance(key)
        }
    }

    /// An item's body ended (its branch is gone).
    func itemEnded(_ runID: Int64, item: Int, failed: Bool, output: JSONValue) {
        guard var run = runs[runID], var state = run.parallel else { return }
        state.running.remove(item)
        state.outputs[item] = output
        if failed && state.firstFailedItem == nil { state.firstFailedItem = item }
        run.parallel = state
        runs[runID] = run
        startItems(runID)
        settleParallelWaiting(of: ItemBranchKey.make(run: runID, item: item))
    }

    /// A parallel foreach's run is `waiting` while every item in flight waits (sleep,
    /// approval, a triggered run) and `running` otherwise, as a run without items would
    /// be. Called with an item's key whenever that item starts or stops waiting, or ends.
    func settleParallelWaiting(of key: Int64) {
        guard let (runID, _) = ItemBranchKey.split(key), let run = runs[runID], let state = run.parallel,
              run.state == .running || run.state == .waiting else { return }
        let allWait = !state.running.isEmpty && state.running.allSatisfy {
            runs[ItemBranchKey.make(run: runID, item: $0)]?.state == .waiting
        }
        let wanted: ActiveRun.State = allWait ? .waiting : .running
        guard wanted != run.state else { return }
        runs[runID]?.state = wanted
        journal.submit([.runStatus(runID: runID, status: wanted.rawValue)])
        publishCounts()
    }

    /// Cancel or run timeout: stops every item in flight; no new item starts.
    func stopItems(_ runID: Int64, error: String?) {
        guard var run = runs[runID], let state = run.parallel else { return }
        run.parallel = nil
        runs[runID] = run
        for item in state.running.sorted() {
            let key = ItemBranchKey.make(run: runID, item: item)
            guard var branch = runs[key] else { continue }
            branch.frames = []
            branch.current?.abandoned = true
            runs[key] = branch
            guard let current = branch.current else {
                runs[key] = nil
                continue
            }
            if let timer = current.timer { loop.cancel(timer) }
            if current.timer == nil, let cancellation = current.cancellation {
                cancellation.cancel()  // the attempt's outcome comes back; advance() then drops the branch
                continue
            }
            readyRuns.removeAll { $0 == key }
            finishWaitingAttempt(key, status: "cancelled", error: error)
            runs[key] = nil
        }
    }

    /// The next attempt to get a worker: the oldest waiting, unless it is of the run
    /// served last and another run's attempt waits too. So the items of a wide parallel
    /// foreach take turns with other runs' steps instead of all going first.
    func takeReadyAttempt() -> Int64 {
        let index = readyRuns.firstIndex { ItemBranchKey.run(of: $0) != lastServedRun } ?? 0
        let key = readyRuns.remove(at: index)
        lastServedRun = ItemBranchKey.run(of: key)
        return key
    }

    /// The next step index of a run's execution order (a branch takes its run's).
    /// takeSequence for the run at `runID`, changed in place in `runs`.
    func takeSequence(of runID: Int64) -> Int {
        if let owner = readRun(runID, { $0.branchOf }) ?? nil, let sequence = updateRun(owner, { run in
            defer { run.nextSequence += 1 }
            return run.nextSequence
        }) {
            return sequence
        }
        return updateRun(runID) { run in
            defer { run.nextSequence += 1 }
            return run.nextSequence
        }!
    }

    func takeSequence(_ run: inout ActiveRun) -> Int {
        guard let owner = run.branchOf, let sequence = runs[owner]?.nextSequence else {
            defer { run.nextSequence += 1 }
            return run.nextSequence
        }
        runs[owner]?.nextSequence += 1
        return sequence
    }

    /// Every step id in `steps`, their fallbacks and nested foreach bodies.
    static func stepIDs(in steps: [StepDefinition]) -> Set<String> {
        var ids = Set<String>()
        for step in steps {
            ids.insert(step.id)
            ids.formUnion(stepIDs(in: step.fallback))
            if case .foreach(let inner) = step.kind { ids.formUnion(stepIDs(in: inner.steps)) }
        }
        return ids
    }
}

// MARK: Operators and items: pause, resume, approvals, interrupted items

extension Engine {
    /// The first item branch of `runID` (in item order) that `predicate` accepts.
    func firstItem(of runID: Int64, where predicate: (ActiveRun) -> Bool) -> Int64? {
        guard let state = runs[runID]?.parallel else { return nil }
        return state.running.sorted().map { ItemBranchKey.make(run: runID, item: $0) }.first { runs[$0].map(predicate) ?? false }
    }

    /// flowadm pause RUN during a parallel foreach: each item stops at its next step
    /// boundary (with --kill its running step is stopped, to run again on resume); no
    /// new item starts. The run is paused once no item has a step in flight.
    func pauseItems(_ runID: Int64, kill: Bool) {
        guard let state = runs[runID]?.parallel else { return }
        for item in state.running.sorted() {
            let key = ItemBranchKey.make(run: runID, item: item)
            guard var branch = runs[key] else { continue }
            branch.pauseRequested = true
            let cancellation = kill ? branch.current?.cancellation : nil
            if cancellation != nil { branch.current?.stoppedByPause = true }
            runs[key] = branch
            cancellation?.cancel()
            if branch.current == nil { _ = holdIfPaused(key) }
        }
        settleParallelPause(runID)
    }

    /// Journals the run paused when a pause was asked for and no item has a step in flight.
    func settleParallelPause(_ runID: Int64) {
        guard var run = runs[runID], run.pauseRequested, run.state != .paused, let state = run.parallel else { return }
        let busy = state.running.contains { item in
            guard let branch = runs[ItemBranchKey.make(run: runID, item: item)] else { return false }
            return branch.state != .paused && branch.state != .interrupted
        }
        guard !busy else { return }
        run.state = .paused
        runs[runID] = run
        journal.submit([.runStatus(runID: runID, status: "paused")])
        publishCounts()
    }

    /// flowadm resume RUN during a parallel foreach: paused items go on (a step stopped
    /// by --kill runs again as a new attempt), then new items start.
    func resumeItems(_ runID: Int64) {
        guard let state = runs[runID]?.parallel else { return }
        for item in state.running.sorted() {
            let key = ItemBranchKey.make(run: runID, item: item)
            guard var branch = runs[key], branch.pauseRequested else { continue }
            branch.pauseRequested = false
            if branch.state == .paused { branch.state = .running }
            runs[key] = branch
            if let current = branch.current, current.stoppedByPause {
                runs[key]?.current?.stoppedByPause = false
                startAttempt(key)
            } else if branch.current == nil {
                advance(key)
            }
        }
        startItems(runID)
    }

    /// flowadm resume RUN when items are interrupted (after a restart): their steps run
    /// again as new attempts. False when no item is interrupted.
    func resumeInterruptedItems(_ runID: Int64) -> Bool {
        var resumed = false
        while let key = firstItem(of: runID, where: { $0.state == .interrupted }), var branch = runs[key], var current = branch.current {
            if !resumed { journal.submit([.runStatus(runID: runID, status: "running")]) }
            resumed = true
            current.attempt += 1
            branch.current = current
            branch.state = .running
            branch.failureError = nil
            runs[key] = branch
            startAttempt(key)
        }
        return resumed
    }

    /// After an item's interrupted step was skipped: the run is running again once no
    /// item is interrupted.
    func settleInterruptedItems(_ runID: Int64) {
        guard runs[runID] != nil, firstItem(of: runID, where: { $0.state == .interrupted }) == nil else { return }
        journal.submit([.runStatus(runID: runID, status: "running")])
    }
}

extension ActiveRun {
    /// The item an item branch runs for.
    var itemIndex: Int? {
        guard branchOf != nil, case .foreach(_, _, let index)? = frames.first?.kind else { return nil }
        return index
    }
}
