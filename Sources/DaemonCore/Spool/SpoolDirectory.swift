// SpoolDirectory.swift: the spool's directories and every move a trigger file makes.
//
//   incoming/<workflow>/NAME        dropped by users
//   active/<workflow>/RUN.NAME      claimed: renamed here before its run is recorded
//   done/<workflow>/RUN.NAME        its run ended
//   rejected/<workflow>/NAME        refused, with NAME.reason beside it
//   hold/<workflow>/NAME            set aside by an admin
//
// Every move is a rename within one filesystem (atomic) that never replaces an existing
// file; a name clash in done/ or rejected/ gets a numeric suffix. Nothing is deleted.
// Used from the engine's loop thread.

#if canImport(Glibc)
import Glibc
#endif

/// The spool tree under one root directory.
struct SpoolDirectory {
    let root: String

    var incoming: String { root + "/incoming" }
    func incoming(_ workflow: String) -> String { root + "/incoming/" + workflow }

    /// Creates the fixed directories and `incoming/<name>` for each workflow.
    func prepare(workflows: [String]) throws(SystemError) {
        for directory in ["incoming", "active", "done", "rejected", "hold"] {
            try FileSystem.makeDirectories(root + "/" + directory, mode: 0o755)
        }
        for workflow in workflows {
            try FileSystem.makeDirectories(incoming(workflow), mode: 0o775)
        }
    }

    /// True for names that are still being written: dotfiles, *.tmp, *.part, *~.
    static func isIgnoredName(_ name: String) -> Bool {
        name.hasPrefix(".") || name.hasSuffix(".tmp") || name.hasSuffix(".part") || name.hasSuffix("~")
    }

    /// The workflow directories present under incoming/.
    func incomingWorkflows() -> [String] {
        ((try? FileSystem.entries(incoming)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }

    /// Files waiting in incoming/<workflow>/, oldest first (mtime, then name).
    func pendingFiles(_ workflow: String) -> [String] {
        let directory = incoming(workflow)
        let names = ((try? FileSystem.entries(directory)) ?? []).filter { !Self.isIgnoredName($0) }
        let dated = names.map { name in (name, (try? FileSystem.status(directory + "/" + name))?.modificationTime ?? 0) }
        return dated.sorted { ($0.1, $0.0) < ($1.1, $1.0) }.map(\.0)
    }

    /// Claims incoming/<workflow>/<name> for run `runID`; returns its path in active/.
    func claim(workflow: String, name: String, runID: Int64) throws(SystemError) -> String {
        let destination = root + "/active/\(workflow)/\(runID).\(name)"
        try Self.renameCreatingDirectory(incoming(workflow) + "/" + name, destination, directory: root + "/active/" + workflow)
        return destination
    }

    /// Renames, creating the destination's directory only when the rename says it is
    /// missing (a mkdir per file would cost more than the rename itself).
    private static func renameCreatingDirectory(_ source: String, _ destination: String, directory: String) throws(SystemError) {
        do {
            try FileSystem.renameWithoutReplacing(source, destination)
        } catch where error.errno == ENOENT && (try? FileSystem.status(source)) != nil {
            try FileSystem.makeDirectories(directory)
            try FileSystem.renameWithoutReplacing(source, destination)
        }
    }

    /// A file in active/: active/<workflow>/<runID>.<name>.
    struct ClaimedFile {
        var workflow: String
        var runID: Int64
        var name: String
        var path: String
    }

    /// Every claimed file (the run id is read back from the name `claim` gave it).
    func claimedFiles() -> [ClaimedFile] {
        let active = root + "/active"
        var files: [ClaimedFile] = []
        for workflow in (try? FileSystem.entries(active)) ?? [] {
            for file in (try? FileSystem.entries(active + "/" + workflow)) ?? [] {
                guard let runID = Self.runID(inFileName: file), let dot = file.firstIndex(of: ".") else { continue }
                files.append(ClaimedFile(workflow: workflow, runID: runID, name: String(file[file.index(after: dot)...]),
                                         path: active + "/" + workflow + "/" + file))
            }
        }
        return files
    }

    /// The run id a claimed (active/ or done/) file's name starts with ("42.upload.json" → 42).
    static func runID(inFileName name: String) -> Int64? {
        guard let dot = name.firstIndex(of: "."), dot > name.startIndex else { return nil }
        return Int64(name[..<dot])
    }

    /// Where `finish` moves a claimed file, unless that name is taken in done/.
    func donePath(activePath: String, workflow: String) -> String {
        root + "/done/" + workflow + "/" + Self.fileName(activePath)
    }

    /// Moves a claimed file to done/<workflow>/; returns the new path.
    func finish(activePath: String, workflow: String) throws(SystemError) -> String {
        try moveAvoidingClash(activePath, into: root + "/done/" + workflow, name: Self.fileName(activePath))
    }

    private static func fileName(_ path: String) -> String {
        String(path.split(separator: "/").last ?? "")
    }

    /// Moves a refused file to rejected/<workflow>/NAME (its name as the user dropped it)
    /// with NAME.reason beside it. The reason is written first (created exclusively, it
    /// also reserves the name), so a file never sits in rejected/ without it; when either
    /// step fails (a full disk) the file stays where it was and the error is thrown.
    func reject(path: String, name: String, workflow: String, reason: String) throws(SystemError) -> String {
        let directory = root + "/rejected/" + workflow
        if (try? FileSystem.status(directory)) == nil { try FileSystem.makeDirectories(directory) }
        var candidate = directory + "/" + name
        var suffix = 1
        while true {
            do throws(SystemError) {
                try FileSystem.createFile(candidate + ".reason", contents: Array((reason + "\n").utf8))
            } catch where error.errno == EEXIST && suffix < 10_000 {
                candidate = directory + "/" + name + ".\(suffix)"
                suffix += 1
                continue
            } catch {
                try? FileSystem.removeFile(candidate + ".reason")  // ours, created but not written (ENOSPC)
                throw error
            }
            do throws(SystemError) {
                try FileSystem.renameWithoutReplacing(path, candidate)
                return candidate
            } catch {
                try? FileSystem.removeFile(candidate + ".reason")
                guard error.errno == EEXIST && suffix < 10_000 else { throw error }
                candidate = directory + "/" + name + ".\(suffix)"
                suffix += 1
            }
        }
    }

    private func moveAvoidingClash(_ source: String, into directory: String, name: String) throws(SystemError) -> String {
        var candidate = directory + "/" + name
        var suffix = 1
        while true {
            do {
                try Self.renameCreatingDirectory(source, candidate, directory: directory)
                return candidate
            } catch where error.errno == EEXIST && suffix < 10_000 {
                candidate = directory + "/" + name + ".\(suffix)"
                suffix += 1
            }
        }
    }
}
