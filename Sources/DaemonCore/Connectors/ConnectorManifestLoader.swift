// ConnectorManifestLoader.swift: one connector manifest YAML file → a ConnectorManifest,
// or every error of the file as `file:line:column: message` (like WorkflowLoader).
//
// Checked: keys and types, names ([a-z0-9][a-z0-9_-]{0,63}), methods, header names,
// that an action has exactly one of `request:` and `command:`, that a command's argv[0]
// is an absolute path, that every template parses and reads only what is in scope
// (`inputs.<declared input>`, `credentials.<declared credential>`; `response` in
// `output:`), and that defaults have their input's type.

/// Loads and validates connector manifests.
public enum ConnectorManifestLoader {
    static let manifestKeys = ["name", "description", "base_url", "credentials", "optional_credentials", "actions"]
    static let actionKeys = ["description", "credentials", "inputs", "request", "command", "expect", "output", "fail_if", "fail_message"]
    static let inputKeys = ["type", "required", "default", "description", "single_line"]
    static let requestKeys = ["method", "path", "headers", "query", "body", "sign"]
    static let commandKeys = ["argv", "stdin"]

    /// Loads the manifest at `path`; its stem is the name unless `name:` says otherwise.
    public static func load(path: String) throws(DefinitionErrors) -> ConnectorManifest {
        let root: YAMLNode?
        do {
            root = try YAMLParser.parseFile(atPath: path)
        } catch {
            throw DefinitionErrors([DefinitionError(error.location, error.message)])
        }
        return try load(root: root, path: path)
    }

    /// Loads a manifest from YAML text; `path` names it in positions.
    public static func load(text: String, path: String) throws(DefinitionErrors) -> ConnectorManifest {
        let root: YAMLNode?
        do {
            root = try YAMLParser.parse(text, file: path)
        } catch {
            throw DefinitionErrors([DefinitionError(error.location, error.message)])
        }
        return try load(root: root, path: path)
    }

    static func load(root: YAMLNode?, path: String) throws(DefinitionErrors) -> ConnectorManifest {
        guard let root else {
            throw DefinitionErrors([DefinitionError(SourceLocation(file: path, line: 1, column: 1), "the file holds no connector manifest (it is empty)")])
        }
        let reader = NodeReader()
        let manifest = read(root, path: path, reader: reader)
        let errors = reader.errors.enumerated().sorted {
            ($0.element.location.line, $0.element.location.column, $0.offset) < ($1.element.location.line, $1.element.location.column, $1.offset)
        }.map(\.element)
        if let manifest, errors.isEmpty { return manifest }
        throw DefinitionErrors(errors)
    }

    private static func read(_ root: YAMLNode, path: String, reader: NodeReader) -> ConnectorManifest? {
        guard let members = reader.mapping(root, what: "a connector manifest", allowed: manifestKeys) else { return nil }
        var name = WorkflowLoader.fileStem(path)
        if let node = members["name"], let text = reader.string(node, what: "name") { name = text }
        if !WorkflowLoader.isValidName(name) {
            reader.report(members["name"]?.location ?? root.location,
                          "connector name \(quote(name)) is invalid; names match [a-z0-9][a-z0-9_-]{0,63}")
        }
        var manifest = ConnectorManifest(name: name, description: nil, baseURL: nil, credentials: [], optionalCredentials: [],
                                         actions: [:], sourcePath: path)
        if let node = members["description"] { manifest.description = reader.string(node, what: "description") }
        if let node = members["base_url"], let text = reader.string(node, what: "base_url") {
            if text.hasPrefix("http://") || text.hasPrefix("https://") {
                manifest.baseURL = text
            } else {
                reader.report(node, "base_url must start with http:// or https://; found \(quote(text))")
            }
        }
        for (key, what) in [("credentials", "credentials"), ("optional_credentials", "optional_credentials")] {
            guard let node = members[key] else { continue }
            guard let items = node.items else {
                reader.report(node, "\(what) must be a list of credential names, found \(node.kindName)")
                continue
            }
            var names: [String] = []
            for item in items {
                guard let text = reader.string(item, what: "an item of \(what)") else { continue }
                if !isCredentialName(text) {
                    reader.report(item, "credential name \(quote(text)) is invalid; use letters, digits, '.', '_' and '-'")
                } else {
                    names.append(text)
                }
            }
            if key == "credentials" { manifest.credentials = names } else { manifest.optionalCredentials = names }
        }
        guard let actionsNode = members["actions"] else {
            reader.report(root, "a connector manifest needs \"actions\": a mapping of action names to actions")
            return nil
        }
        guard let pairs = actionsNode.pairs, !pairs.isEmpty else {
            reader.report(actionsNode, "actions must be a non-empty mapping of action names to actions, found \(actionsNode.kindName)")
            return nil
        }
        let known = Set(manifest.credentials + manifest.optionalCredentials)
        for pair in pairs {
            guard let actionName = pair.key.scalarText else { continue }
            if !WorkflowLoader.isValidName(actionName) {
                reader.report(pair.key, "action name \(quote(actionName)) is invalid; names match [a-z0-9][a-z0-9_-]{0,63}")
                continue
            }
            if let action = readAction(pair.value, name: actionName, manifest: manifest, credentials: known, reader: reader) {
                manifest.actions[actionName] = action
            }
        }
        return manifest
    }

    static func isCredentialName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 128 && !name.hasPrefix(".")
            && name.unicodeScalars.allSatisfy { ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || "._-".unicodeScalars.contains($0) }
    }

    private static func readAction(_ node: YAMLNode, name: String, manifest: ConnectorManifest, credentials: Set<String>,
                                   reader: NodeReader) -> ConnectorAction? {
        let what = "action \(name)"
        guard let members = reader.mapping(node, what: what, allowed: actionKeys) else { return nil }
        var inputs: [ConnectorInput] = []
        if let inputsNode = members["inputs"] {
            if let pairs = inputsNode.pairs {
                for pair in pairs {
                    guard let inputName = pair.key.scalarText else { continue }
                    guard WorkflowLoader.isValidName(inputName) else {
                        reader.report(pair.key, "input name \(quote(inputName)) is invalid; names match [a-z0-9][a-z0-9_-]{0,63}")
                        continue
                    }
                    if let input = readInput(pair.value, name: inputName, what: "\(what) input \(inputName)", reader: reader) { inputs.append(input) }
                }
            } else {
                reader.report(inputsNode, "\(what).inputs must be a mapping of input names to declarations, found \(inputsNode.kindName)")
            }
        }
        let scope = TemplateScope(inputs: Set(inputs.map(\.name)), credentials: credentials, response: false)
        var operation: ConnectorAction.Operation?
        switch (members["request"], members["command"]) {
        case (let request?, nil):
            operation = readRequest(request, what: "\(what).request", manifest: manifest, scope: scope, reader: reader).map { .request($0) }
        case (nil, let command?):
            operation = readCommand(command, what: "\(what).command", scope: scope, reader: reader).map { .command($0) }
        case (.some, .some):
            reader.report(node, "\(what) has both request and command; it needs exactly one")
        case (nil, nil):
            reader.report(node, "\(what) needs request: (an HTTP request) or command: (argv and stdin)")
        }
        var expect: [Int] = []
        if let node = members["expect"] { expect = reader.integerList(node, what: "\(what).expect", range: 0...599) ?? [] }
        var output: [String: String]?
        if let node = members["output"], let map = reader.stringMap(node, what: "\(what).output") {
            output = map
            let outputScope = TemplateScope(inputs: scope.inputs, credentials: [], response: true)
            for pair in node.pairs ?? [] { checkTemplates(pair.value, what: "\(what).output", scope: outputScope, reader: reader) }
        }
        var failIf: String?, failMessage: String?
        let responseScope = TemplateScope(inputs: scope.inputs, credentials: [], response: true)
        if let node = members["fail_if"] {
            failIf = reader.string(node, what: "\(what).fail_if")
            checkTemplates(node, what: "\(what).fail_if", scope: responseScope, reader: reader)
        }
        if let node = members["fail_message"] {
            failMessage = reader.string(node, what: "\(what).fail_message")
            checkTemplates(node, what: "\(what).fail_message", scope: responseScope, reader: reader)
            if members["fail_if"] == nil { reader.report(node, "\(what).fail_message needs fail_if") }
        }
        var description: String?
        if let node = members["description"] { description = reader.string(node, what: "\(what).description") }
        var needed = manifest.credentials
        if let node = members["credentials"], let names = reader.stringList(node, what: "\(what).credentials") {
            needed = names
            for (item, name) in zip(node.items ?? [], names) where !credentials.contains(name) {
                reader.report(item, "\(what).credentials: \(quote(name)) is not listed in the manifest's credentials")
            }
        }
        guard let operation else { return nil }
        return ConnectorAction(name: name, description: description, credentials: needed, inputs: inputs, operation: operation, expect: expect, output: output,
                               failIf: failIf, failMessage: failMessage)
    }

    private static func readInput(_ node: YAMLNode, name: String, what: String, reader: NodeReader) -> ConnectorInput? {
        guard let members = reader.mapping(node, what: what, allowed: inputKeys) else { return nil }
        var input = ConnectorInput(name: name, type: .string, required: false, defaultValue: nil, description: nil, singleLine: false)
        if let node = members["type"], let text = reader.string(node, what: "\(what).type") {
            if let type = ConnectorInputType(rawValue: text) {
                input.type = type
            } else {
                reader.report(node, "\(what).type must be one of \(ConnectorInputType.allCases.map(\.rawValue).joined(separator: ", ")); found \(quote(text))")
            }
        }
        if let node = members["required"] { input.required = reader.boolean(node, what: "\(what).required") ?? false }
        if let node = members["single_line"] { input.singleLine = reader.boolean(node, what: "\(what).single_line") ?? false }
        if let node = members["description"] { input.description = reader.string(node, what: "\(what).description") }
        if let node = members["default"] {
            let value = node.toJSON()
            if let problem = ConnectorInputs.typeProblem(of: value, for: input.type) {
                reader.report(node, "\(what).default must be \(problem)")
            } else {
                input.defaultValue = value
            }
        }
        return input
    }

    private static func readRequest(_ node: YAMLNode, what: String, manifest: ConnectorManifest, scope: TemplateScope,
                                    reader: NodeReader) -> ConnectorRequest? {
        guard let members = reader.mapping(node, what: what, allowed: requestKeys) else { return nil }
        var request = ConnectorRequest(method: "POST", path: "")
        if let node = members["method"], let text = reader.string(node, what: "\(what).method") {
            if HTTPStep.methods.contains(text.uppercased()) {
                request.method = text.uppercased()
            } else {
                reader.report(node, "\(what).method must be one of \(HTTPStep.methods.joined(separator: ", ")); found \(quote(text))")
            }
        }
        if let node = members["path"], let text = reader.string(node, what: "\(what).path") {
            request.path = text
            checkTemplates(node, what: "\(what).path", scope: scope, reader: reader)
        } else if members["path"] == nil {
            reader.report(node, "\(what) needs path: (appended to base_url\(manifest.baseURL == nil ? "; this manifest has none, so a whole URL" : ""))")
        }
        if let node = members["headers"], let headers = reader.stringMap(node, what: "\(what).headers") {
            for pair in node.pairs ?? [] {
                if let name = pair.key.scalarText, !HTTPRequestBuilder.isToken(name) {
                    reader.report(pair.key, "\(what).headers: \(quote(name)) is not a valid header name")
                }
                checkTemplates(pair.value, what: "\(what).headers", scope: scope, reader: reader)
            }
            request.headers = headers
        }
        if let node = members["query"], let query = reader.stringMap(node, what: "\(what).query") {
            for pair in node.pairs ?? [] { checkTemplates(pair.value, what: "\(what).query", scope: scope, reader: reader) }
            request.query = query
        }
        if let node = members["body"] {
            request.body = node.toJSON()
            checkTemplates(node, what: "\(what).body", scope: scope, reader: reader)
        }
        if let node = members["sign"], let sign = reader.mapping(node, what: "\(what).sign", allowed: ["header", "credential"]) {
            let header = sign["header"].flatMap { reader.string($0, what: "\(what).sign.header") } ?? "X-Flowd-Signature"
            if !HTTPRequestBuilder.isToken(header) { reader.report(sign["header"] ?? node, "\(what).sign.header: \(quote(header)) is not a valid header name") }
            if let credentialNode = sign["credential"], let credential = reader.string(credentialNode, what: "\(what).sign.credential") {
                if !scope.credentials.contains(credential) {
                    reader.report(credentialNode, "\(what).sign.credential \(quote(credential)) is not listed in credentials or optional_credentials")
                }
                request.sign = ConnectorSigning(header: header, credential: credential)
            } else if sign["credential"] == nil {
                reader.report(node, "\(what).sign needs credential: the name of the secret to sign with")
            }
        }
        return request
    }

    private static func readCommand(_ node: YAMLNode, what: String, scope: TemplateScope, reader: NodeReader) -> ConnectorCommand? {
        guard let members = reader.mapping(node, what: what, allowed: commandKeys) else { return nil }
        guard let argvNode = members["argv"] else {
            reader.report(node, "\(what) needs argv: a list whose first item is an absolute program path")
            return nil
        }
        guard let argv = reader.stringList(argvNode, what: "\(what).argv") else { return nil }
        guard let program = argv.first, program.hasPrefix("/") else {
            reader.report(argvNode, "\(what).argv must start with an absolute program path, e.g. /usr/sbin/sendmail")
            return nil
        }
        for item in argvNode.items ?? [] { checkTemplates(item, what: "\(what).argv", scope: scope, reader: reader) }
        var command = ConnectorCommand(argv: argv)
        if let node = members["stdin"] {
            command.standardInput = reader.string(node, what: "\(what).stdin")
            checkTemplates(node, what: "\(what).stdin", scope: scope, reader: reader)
        }
        return command
    }

    /// What a manifest template may read.
    struct TemplateScope {
        var inputs: Set<String>
        var credentials: Set<String>
        var response: Bool
    }

    /// Parses every string under `node` as a template and checks what it reads.
    static func checkTemplates(_ node: YAMLNode, what: String, scope: TemplateScope, reader: NodeReader) {
        switch node.content {
        case .sequence(let items): for item in items { checkTemplates(item, what: what, scope: scope, reader: reader) }
        case .mapping(let pairs): for pair in pairs { checkTemplates(pair.value, what: what, scope: scope, reader: reader) }
        case .scalar(let text, _):
            guard text.contains("{{") else { return }
            let template: Template
            do {
                template = try Template.parse(text)
            } catch {
                reader.report(node, "\(what): \(error.message)")
                return
            }
            for path in template.references {
                guard let root = path.first else { continue }
                switch root {
                case "inputs":
                    if path.count > 1, !scope.inputs.contains(path[1]) {
                        reader.report(node, "\(what): inputs.\(path[1]) is not a declared input of this action")
                    }
                case "credentials":
                    if path.count > 1, !scope.credentials.contains(path[1]) {
                        reader.report(node, "\(what): credentials.\(path[1]) is not listed in the manifest's credentials"
                                      + (scope.response ? " (templates over the response cannot read credentials)" : ""))
                    }
                case "response" where scope.response:
                    break
                default:
                    reader.report(node, "\(what): unknown name \(quote(root)); connector templates see "
                                  + (scope.response ? "inputs and response" : "inputs and credentials"))
                }
            }
        }
    }
}
