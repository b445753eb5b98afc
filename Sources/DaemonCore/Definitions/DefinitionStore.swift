// DefinitionStore.swift: the set of workflows the daemon runs, loaded from a directory.
//
// Each *.yaml / *.yml file in the workflows directory is one workflow. A file that fails
// validation never replaces the last good version loaded from it: the old one stays in
// force and the errors are kept for `flowadm workflows` and the log. A deleted file
// removes its workflow (running runs finish with the definition they started with).
// Owned by the engine's loop thread.

/// A file of the workflows directory that did not load.
public struct DefinitionProblem: Sendable {
    public var path: String
    public var errors: [DefinitionError]
}

/// The loaded workflows and the files that failed.
final class DefinitionStore {
    let directory: String
    /// Where connector manifests load from (shipped, then admin); reloaded with the workflows.
    let connectorDirectories: [String]
    /// The manifests in force; `uses:` steps are checked against them.
    private(set) var connectors = ConnectorCatalog()
    /// Loaded workflows by name.
    private(set) var workflows: [String: WorkflowDefinition] = [:]
    /// Files that failed at their last load, by path.
    private(set) var problems: [String: DefinitionProblem] = [:]
    /// Which workflow each file provides.
    private var nameByPath: [String: String] = [:]
    /// The last load of each file with its stamp: an unchanged file is not parsed again.
    private var loaded: [String: (stamp: [Int64], result: Result<WorkflowDefinition, DefinitionErrors>)] = [:]

    /// The bytes of each file parsed by the last reload, until `takeSources`: the
    /// engine journals them as the source of new versions (kept no longer, for RSS).
    private var sources: [String: [UInt8]] = [:]

    init(directory: String, connectorDirectories: [String] = []) {
        self.directory = directory
        self.connectorDirectories = connectorDirectories
    }

    /// Re-reads the directory. Returns the problems found by this pass (new or still there)
    /// and the names of workflows whose version changed or that appeared.
    @discardableResult
    func reload() -> (changed: [WorkflowDefinition], problems: [DefinitionProblem]) {
        let catalog = ConnectorCatalog.load(directories: connectorDirectories)
        // Other manifests can make a workflow valid or invalid: load every file again.
        if catalog.fingerprint != connectors.fingerprint { loaded = [:] }
        connectors = catalog
        let paths = Self.definitionFiles(in: directory)
        var changed: [WorkflowDefinition] = []
        var newProblems: [String: DefinitionProblem] = [:]
        var newWorkflows: [String: WorkflowDefinition] = [:]
        var newNames: [String: String] = [:]
        var newLoaded: [String: (stamp: [Int64], result: Result<WorkflowDefinition, DefinitionErrors>)] = [:]
        for path in paths {
            let stamp = (try? FileSystem.status(path))?.stamp ?? []
            let result: Result<WorkflowDefinition, DefinitionErrors>
            if let previous = loaded[path], !stamp.isEmpty, previous.stamp == stamp {
                result = previous.result
            } else {
                result = load(path, connectors: catalog)
            }
            newLoaded[path] = (stamp, result)
            do {
                let definition = try result.get()
                if let owner = newWorkflows[definition.name] {
                    newProblems[path] = DefinitionProblem(path: path, errors: [DefinitionError(
                        SourceLocation(file: path, line: 1, column: 1),
                        "workflow \"\(definition.name)\" is already defined by \(owner.sourcePath)")])
                    continue
                }
                if workflows[definition.name]?.version != definition.version { changed.append(definition) }
                newWorkflows[definition.name] = definition
                newNames[path] = definition.name
            } catch {
                newProblems[path] = DefinitionProblem(path: path, errors: error.errors)
                // Keep the last good version this file provided.
                if let name = nameByPath[path], let previous = workflows[name], newWorkflows[name] == nil {
                    newWorkflows[name] = previous
                    newNames[path] = name
                }
            }
        }
        workflows = newWorkflows
        nameByPath = newNames
        loaded = newLoaded
        problems = newProblems
        return (changed, newProblems.values.sorted { $0.path < $1.path })
    }

    /// Re-reads only the files `names` (of the workflows directory) when that gives the
    /// same result as `reload()`: each named file exists and already provides a
    /// workflow, and still provides the same one (or fails, keeping the last good
    /// version). Anything else (a new, deleted or renamed file, a workflow that moves
    /// between files, changed connector manifests) falls back to `reload()`.
    @discardableResult
    func reload(names: Set<String>) -> (changed: [WorkflowDefinition], problems: [DefinitionProblem]) {
        let catalog = ConnectorCatalog.load(directories: connectorDirectories)
        guard catalog.fingerprint == connectors.fingerprint else { return reload() }
        var changed: [WorkflowDefinition] = []
        var updates: [(path: String, stamp: [Int64], result: Result<WorkflowDefinition, DefinitionErrors>)] = []
        for name in names.sorted() {
            let path = directory + "/" + name
            guard let providedName = nameByPath[path], let stamp = (try? FileSystem.status(path))?.stamp, !stamp.isEmpty,
                  let previous = loaded[path] else { return reload() }
            if previous.stamp == stamp { continue }
            let result = load(path, connectors: catalog)
            if case .success(let definition) = result, definition.name != providedName { return reload() }
            updates.append((path, stamp, result))
        }
        for update in updates {
            loaded[update.path] = (update.stamp, update.result)
            switch update.result {
            case .success(let definition):
                if workflows[definition.name]?.version != definition.version { changed.append(definition) }
                workflows[definition.name] = definition
                problems[update.path] = nil
            case .failure(let error):
                // The last good version stays in force.
                problems[update.path] = DefinitionProblem(path: update.path, errors: error.errors)
            }
        }
        return (changed, problems.values.sorted { $0.path < $1.path })
    }

    /// Loads one file, keeping its bytes in `sources` when it loads.
    private func load(_ path: String, connectors: ConnectorCatalog) -> Result<WorkflowDefinition, DefinitionErrors> {
        do {
            let (definition, source) = try WorkflowLoader.loadKeepingSource(path: path, connectors: connectors)
            sources[path] = source
            return .success(definition)
        } catch {
            return .failure(error)
        }
    }

    /// The bytes the last reload parsed for each file that loaded, by path; forgets them.
    func takeSources() -> [String: [UInt8]] {
        defer { sources = [:] }
        return sources
    }

    /// The definition files of `directory`, sorted; hidden files are skipped.
    static func definitionFiles(in directory: String) -> [String] {
        let names = (try? FileSystem.entries(directory)) ?? []
        return names.filter(isDefinitionFileName).sorted().map { directory + "/" + $0 }
    }

    /// `*.yaml` and `*.yml`, not hidden (editors' swap and temp files are hidden or end otherwise).
    static func isDefinitionFileName(_ name: String) -> Bool {
        !name.hasPrefix(".") && (name.hasSuffix(".yaml") || name.hasSuffix(".yml"))
    }
}
