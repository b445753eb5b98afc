// ConnectorCatalog.swift: the connector manifests in force, and the `uses:` check.
//
// Manifests load from the shipped directory (/usr/share/flowd/connectors) and then the
// admin's (/etc/flowd/connectors): an admin manifest with the same name replaces the
// shipped one whole. A file that fails is reported and skipped (its name is then
// unknown, unless the other directory provides it). The workflow loader asks the
// catalog to check each `uses:` step: connector and action known, inputs declared,
// required inputs given, literal values of the declared type.

/// A manifest file that did not load.
public struct ConnectorProblem: Sendable {
    public var path: String
    public var errors: [DefinitionError]
}

/// The loaded connector manifests by name.
public struct ConnectorCatalog: Sendable {
    public var manifests: [String: ConnectorManifest] = [:]
    public var problems: [ConnectorProblem] = []
    /// The directories read, in order (later ones override earlier ones).
    public var directories: [String] = []
    /// Changes whenever a manifest changes (the workflow loader's cache key).
    public var fingerprint: String = ""

    public init(manifests: [ConnectorManifest] = []) {
        for manifest in manifests { self.manifests[manifest.name] = manifest }
    }

    /// The shipped directory for a daemon layout: /usr/share/flowd/connectors, or
    /// DIR/usr/share/flowd/connectors under `--root DIR`.
    public static func shippedDirectory(configurationDirectory: String) -> String {
        let suffix = "/etc/flowd"
        if configurationDirectory == "/etc/flowd" { return "/usr/share/flowd/connectors" }
        if configurationDirectory.hasSuffix(suffix) { return String(configurationDirectory.dropLast(suffix.count)) + "/usr/share/flowd/connectors" }
        return configurationDirectory + "/../usr/share/flowd/connectors"
    }

    /// Reads `directories` in order; a later manifest of the same name replaces an earlier one.
    public static func load(directories: [String]) -> ConnectorCatalog {
        var catalog = ConnectorCatalog()
        catalog.directories = directories
        var stamps: [String] = []
        for directory in directories {
            for path in DefinitionStore.definitionFiles(in: directory) {
                stamps.append(path + ":" + ((try? FileSystem.status(path))?.stamp ?? []).map(String.init).joined(separator: "."))
                do {
                    let manifest = try ConnectorManifestLoader.load(path: path)
                    if let other = catalog.manifests[manifest.name], other.sourcePath.hasPrefix(directory + "/") {
                        catalog.problems.append(ConnectorProblem(path: path, errors: [DefinitionError(
                            SourceLocation(file: path, line: 1, column: 1),
                            "connector \(quote(manifest.name)) is already defined by \(other.sourcePath)")]))
                        continue
                    }
                    catalog.manifests[manifest.name] = manifest
                } catch {
                    catalog.problems.append(ConnectorProblem(path: path, errors: error.errors))
                }
            }
        }
        catalog.fingerprint = SHA256.hexDigest(Array(stamps.joined(separator: "\n").utf8))
        return catalog
    }

    /// Checks a `uses:` step against the manifests, reporting at the nodes' positions.
    func check(connector: String, action actionName: String, usesNode: YAMLNode, withNode: YAMLNode?, reader: NodeReader) {
        guard let manifest = manifests[connector] else {
            let known = manifests.keys.sorted()
            reader.report(usesNode, "unknown connector \(quote(connector))" + (known.isEmpty ? "; no connector manifests are loaded"
                : "; known connectors: \(known.joined(separator: ", "))"))
            return
        }
        guard let action = manifest.actions[actionName] else {
            reader.report(usesNode, "connector \(connector) has no action \(quote(actionName)); its actions: "
                          + manifest.actions.keys.sorted().joined(separator: ", "))
            return
        }
        var given: Set<String> = []
        for pair in withNode?.pairs ?? [] {
            guard let key = pair.key.scalarText else { continue }
            given.insert(key)
            guard let input = action.input(key) else {
                reader.report(pair.key, "unknown input \(quote(key)) for \(connector)/\(actionName); its inputs: "
                              + (action.inputs.isEmpty ? "none" : action.inputs.map(\.name).joined(separator: ", ")))
                continue
            }
            // A string holding {{ }} is checked when the step runs.
            if let text = pair.value.scalarText, text.contains("{{"), case .string = pair.value.toJSON() { continue }
            if let problem = ConnectorInputs.typeProblem(of: pair.value.toJSON(), for: input.type, literal: true) {
                reader.report(pair.value, "input \(key) of \(connector)/\(actionName) must be \(problem)")
            }
        }
        for input in action.inputs where input.required && input.defaultValue == nil && !given.contains(input.name) {
            reader.report(withNode ?? usesNode, "\(connector)/\(actionName) needs input \(quote(input.name)) (\(input.type.rawValue)) in with:")
        }
    }
}
