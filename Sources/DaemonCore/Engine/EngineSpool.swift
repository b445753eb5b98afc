// EngineSpool.swift: how a file in incoming/ becomes a recorded, queued run.
//
// Checks first, without opening: the workflow must exist and accept spool files, the
// entry must be a regular file (never a symlink or FIFO) within spool.max_file_size.
// Then the claim: rename into active/ under the new run's id, read and decode the
// payload from there, and record the run. A file that fails a check goes to rejected/
// with its reason. While the daemon drains or the queue is full, files stay in incoming/
// and the next rescan picks them up.

extension Engine {
    /// Looks at every workflow directory in incoming/.
    func rescanSpool() {
        retryUnfinishedSpoolMoves()
        for workflow in spool.incomingWorkflows() {
            try? watcher?.watch(workflow: workflow)
            for name in spool.pendingFiles(workflow) {
                guard acceptsNewRuns else { return }
                intake(workflow: workflow, name: name)
            }
        }
    }

    var acceptsNewRuns: Bool { phase == .running && journalHealth.isWritable && queuedCount < configuration.maxQueuedRuns }

    func handle(_ event: SpoolEvent) {
        switch event {
        case .fileReady(let workflow, let name):
            if acceptsNewRuns && !SpoolDirectory.isIgnoredName(name) { intake(workflow: workflow, name: name) }
        case .workflowDirectoryAppeared(let workflow):
            try? watcher?.watch(workflow: workflow)
            for name in spool.pendingFiles(workflow) where acceptsNewRuns { intake(workflow: workflow, name: name) }
        case .rescanNeeded:
            rescanSpool()
        }
    }

    /// Claims one file of incoming/<workflow>/ (or rejects it) and queues its run.
    func intake(workflow: String, name: String) {
        guard !pausedWorkflows.contains(workflow) else { return }  // its files wait in incoming/
        let incomingPath = spool.incoming(workflow) + "/" + name
        guard let status = try? FileSystem.status(incomingPath) else { return }  // gone already
        guard let definition = definitions.workflows[workflow] else {
            reject(incomingPath, name: name, workflow: workflow, reason: "unknown workflow \"\(workflow)\" (no valid definition in \(paths.workflowsDirectory))")
            return
        }
        guard let format = definition.spoolFormat else {
            reject(incomingPath, name: name, workflow: workflow, reason: "workflow \"\(workflow)\" has no spool trigger (on.spool)")
            return
        }
        guard status.kind == .regular else {
            reject(incomingPath, name: name, workflow: workflow, reason: "\(name) is \(status.kind.phrase), not a regular file")
            return
        }
        guard status.size <= configuration.spoolMaxFileSize else {
            reject(incomingPath, name: name, workflow: workflow,
                   reason: "\(name) is \(status.size) bytes, over spool.max_file_size (\(configuration.spoolMaxFileSize) bytes)")
            return
        }
        let runID = nextRunID
        let activePath: String
        do {
            activePath = try spool.claim(workflow: workflow, name: name, runID: runID)
        } catch {
            if error.errno != ENOENT { logger.log(.error, "could not claim \(incomingPath): \(error)") }
            return
        }
        nextRunID += 1
        let payload: JSONValue
        do {
            let bytes = try FileSystem.readRegularFile(activePath, maxBytes: configuration.spoolMaxFileSize)
            switch PayloadDecoder.decode(bytes, format: format, fileName: name) {
            case .success(let value): payload = value
            case .failure(let problem):
                reject(activePath, name: name, workflow: workflow, reason: "\(name): \(problem.reason)")
                return
            }
        } catch {
            reject(activePath, name: name, workflow: workflow, reason: "\(name) could not be read: \(error)")
            return
        }
        let trigger = TriggerInfo(kind: "spool", name: name, file: activePath, size: status.size,
                                  modificationTime: status.modificationTime, ownerUID: status.ownerUID)
        createRun(definition: definition, payload: payload, trigger: trigger, id: runID)
    }

    func reject(_ path: String, name: String, workflow: String, reason: String) {
        do {
            let destination = try spool.reject(path: path, name: name, workflow: workflow, reason: reason)
            logger.log(.warning, "spool file rejected: \(reason); moved to \(destination)", id: .spoolRejected,
                       fields: ["FLOWD_WORKFLOW": workflow])
            events.publish(["kind": "spool_rejected", "file": .string(name), "reason": .string(reason)], runID: nil, workflow: workflow)
        } catch {
            // A file still in incoming/ is met again by the next rescan; a claimed one is
            // remembered so that the rescan tries its move again.
            let claimed = !path.hasPrefix(spool.incoming + "/")
            logger.log(.error, "could not move refused spool file \(path) to rejected/: \(error) (reason: \(reason))"
                       + (claimed ? "; trying again at the next rescan" : ""), fields: ["FLOWD_WORKFLOW": workflow])
            if claimed { unfinishedSpoolMoves.append(.reject(path: path, name: name, workflow: workflow, reason: reason)) }
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
