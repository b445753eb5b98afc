// EngineSpoolMoves.swift: spool moves that failed, kept and tried again.
//
// A move into done/ or rejected/ can fail on a full disk (creating a directory or the
// NAME.reason file needs space). The file then stays where it was, in active/, and the
// move is remembered here and tried again at the start of each spool rescan, so a
// claimed file is never lost nor left behind. A daemon restarted meanwhile finds the
// file in active/ and settles it from the journal (EngineRecovery.swift).

/// A move of a claimed file that did not happen yet.
enum UnfinishedSpoolMove {
    /// The run ended: active/ → done/.
    case finish(runID: Int64, workflow: String, activePath: String)
    /// Refused after its claim: active/ → rejected/ with its reason.
    case reject(path: String, name: String, workflow: String, reason: String)
}

extension Engine {
    /// Tries every remembered move once more; those failing again are remembered again.
    func retryUnfinishedSpoolMoves() {
        let moves = unfinishedSpoolMoves
        unfinishedSpoolMoves.removeAll()
        for move in moves {
            switch move {
            case .finish(let runID, let workflow, let activePath):
                guard (try? FileSystem.status(activePath)) != nil else { continue }  // an admin took it
                moveToDone(runID: runID, workflow: workflow, activePath: activePath)
            case .reject(let path, let name, let workflow, let reason):
                guard (try? FileSystem.status(path)) != nil else { continue }
                reject(path, name: name, workflow: workflow, reason: reason)
            }
        }
    }
}
