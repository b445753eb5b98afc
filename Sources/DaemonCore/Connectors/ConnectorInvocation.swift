// ConnectorInvocation.swift: one run of a connector action, prepared from a `uses:` step.
//
// prepare(): the step's `with:` values (already evaluated) are checked against the
// declared inputs and completed with defaults; required credentials must be loaded;
// then the manifest's templates are evaluated with `inputs` and `credentials` in scope
// into an HTTPRequestSpec or a ProcessSpec. outcome(): the response (or the command's
// result) is judged against `expect` and mapped through `output:`. Nothing here logs;
// every failure is a message for the step's error. Pure, so it is unit-tested alone.

import Foundation

/// Input checks shared by the loader (literals) and the run time (evaluated values).
public enum ConnectorInputs {
    /// nil when `value` fits `type`, else what it must be ("a number, found a string").
    /// At run time (`literal` false) scalars are converted where the text is clear,
    /// see `coerce`; a literal must already have the type (a string may be any scalar).
    static func typeProblem(of value: JSONValue, for type: ConnectorInputType, literal: Bool = false) -> String? {
        let fits: Bool
        switch (type, value) {
        case (.string, .string), (.string, .int), (.string, .double), (.string, .bool): fits = true
        case (.number, .int), (.number, .double): fits = true
        case (.boolean, .bool): fits = true
        case (.object, .object): fits = true
        case (.array, .array): fits = true
        default: fits = false
        }
        if fits { return nil }
        let wanted = ["string": "a string", "number": "a number", "boolean": "true or false", "object": "a mapping", "array": "a list"][type.rawValue]!
        return "\(wanted), found \(value.kindName)"
    }

    /// `value` converted to `type` when that is unambiguous (a template yields text).
    static func coerce(_ value: JSONValue, to type: ConnectorInputType) -> JSONValue? {
        switch (type, value) {
        case (.string, .string), (.number, .int), (.number, .double), (.boolean, .bool), (.object, .object), (.array, .array):
            return value
        case (.string, .int(let number)): return .string(String(number))
        case (.string, .double(let number)): return .string(String(number))
        case (.string, .bool(let flag)): return .string(flag ? "true" : "false")
        case (.number, .string(let text)):
            if let number = Int64(text) { return .int(number) }
            if let number = Double(text), number.isFinite { return .double(number) }
            return nil
        case (.boolean, .string("true")): return .bool(true)
        case (.boolean, .string("false")): return .bool(false)
        case (.object, .string(let text)), (.array, .string(let text)):
            guard let parsed = try? JSONValue.parse(text), coerce(parsed, to: type) == parsed else { return nil }
            return parsed
        default: return nil
        }
    }
}

/// A connector action ready to run on a worker.
public struct ConnectorInvocation: Sendable {
    public enum Work: Sendable {
        case request(HTTPRequestSpec)
        case command(ProcessSpec)
    }

    public var connector: String
    public var action: ConnectorAction
    public var inputs: [String: JSONValue]
    public var work: Work
    /// What the journal records as the attempt's input (header names, never values).
    public var journalInput: JSONValue

    public struct Failure: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Builds the invocation. `with` holds the step's evaluated inputs; `credentials`
    /// the loaded secrets; `credentialProblem` why a credential was refused, if it was.
    public static func prepare(manifest: ConnectorManifest, action: ConnectorAction, with given: [String: JSONValue],
                               credentials: [String: String], credentialProblem: (String) -> String?,
                               timeout: Duration, maxResponseBytes: Int) throws(Failure) -> ConnectorInvocation {
        let label = "\(manifest.name)/\(action.name)"
        var inputs: [String: JSONValue] = [:]
        for key in given.keys.sorted() where action.input(key) == nil {
            throw Failure(message: "\(label) has no input \(quote(key))")
        }
        for input in action.inputs {
            guard let value = given[input.name] ?? input.defaultValue, value != .null else {
                if input.required { throw Failure(message: "\(label) needs input \(input.name)") }
                inputs[input.name] = .null
                continue
            }
            guard let coerced = ConnectorInputs.coerce(value, to: input.type) else {
                throw Failure(message: "input \(input.name) of \(label) must be "
                              + (ConnectorInputs.typeProblem(of: value, for: input.type) ?? input.type.rawValue))
            }
            if input.singleLine, let text = coerced.stringValue, text.contains(where: { $0 == "\n" || $0 == "\r" }) {
                throw Failure(message: "input \(input.name) of \(label) must be one line (it goes into a header)")
            }
            inputs[input.name] = coerced
        }
        for name in action.credentials where credentials[name] == nil {
            if let problem = credentialProblem(name) {
                throw Failure(message: "connector \(manifest.name) needs credential \(name); it was refused: \(problem)")
            }
            throw Failure(message: "connector \(manifest.name) needs credential \(name); none is loaded "
                          + "(put it in $CREDENTIALS_DIRECTORY or credentials_dir, mode 0600)")
        }
        let context = ExpressionContext(roots: ["inputs": .object(inputs), "credentials": .object(credentials.mapValues(JSONValue.string))])
        func evaluate(_ text: String, _ what: String) throws(Failure) -> JSONValue {
            do {
                return try Template.parse(text).evaluate(in: context)
            } catch {
                throw Failure(message: "\(label) \(what): \(error.message)")
            }
        }
        func string(_ value: JSONValue) -> String {
            if case .string(let text) = value { return text }
            return value.serialized()
        }
        var journalInput: [String: JSONValue] = ["connector": .string(manifest.name), "action": .string(action.name), "inputs": .object(inputs)]
        switch action.operation {
        case .request(let request):
            let path = try evaluatePath(request.path, label: label, context: context)
            let url: String
            if path.hasPrefix("http://") || path.hasPrefix("https://") {
                url = path
            } else if let base = manifest.baseURL {
                url = (base.hasSuffix("/") && path.hasPrefix("/") ? String(base.dropLast()) : base) + path
            } else {
                throw Failure(message: "\(label): the path \(quote(path)) is not a URL and the manifest has no base_url")
            }
            var spec = HTTPRequestSpec(method: request.method, url: url)
            for (name, text) in request.headers {
                let value = try evaluate(text, "headers.\(name)")
                if value != .null && value != .string("") { spec.headers[name] = string(value) }
            }
            for (name, text) in request.query {
                let value = try evaluate(text, "query.\(name)")
                if value != .null { spec.query[name] = string(value) }
            }
            if let body = request.body {
                let value: JSONValue
                do {
                    value = try Engine.evaluateTemplates(in: body, context: context)
                } catch {
                    throw Failure(message: "\(label) body: \(error.message)")
                }
                spec.body = Array(Self.droppingNullMembers(value).serialized().utf8)
                if !spec.headers.keys.contains(where: { $0.lowercased() == "content-type" }) { spec.headers["Content-Type"] = "application/json" }
            }
            if let sign = request.sign, let secret = credentials[sign.credential] {
                spec.headers[sign.header] = "sha256=" + HMACSHA256.hexAuthenticationCode(key: Array(secret.utf8), message: spec.body ?? [])
            }
            spec.timeout = timeout
            spec.maxResponseBytes = maxResponseBytes
            journalInput["method"] = .string(spec.method)
            journalInput["url"] = .string(spec.url)
            journalInput["headers"] = .array(spec.headers.keys.sorted().map(JSONValue.string))
            journalInput["body_bytes"] = .int(Int64(spec.body?.count ?? 0))
            return ConnectorInvocation(connector: manifest.name, action: action, inputs: inputs, work: .request(spec),
                                       journalInput: .object(journalInput))
        case .command(let command):
            var argv: [String] = []
            for (index, item) in command.argv.enumerated() { argv.append(string(try evaluate(item, "argv[\(index)]"))) }
            var spec = ProcessSpec(executable: argv[0], arguments: Array(argv.dropFirst()),
                                   environment: ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"])
            if let standardInput = command.standardInput {
                spec.standardInput = Array(string(try evaluate(standardInput, "stdin")).utf8)
            }
            spec.timeout = timeout
            journalInput["argv"] = .array(argv.map(JSONValue.string))
            journalInput["stdin_bytes"] = .int(Int64(spec.standardInput?.count ?? 0))
            return ConnectorInvocation(connector: manifest.name, action: action, inputs: inputs, work: .command(spec),
                                       journalInput: .object(journalInput))
        }
    }

    /// The path template: values put into literal text are percent-encoded (a table name
    /// with a space or a slash stays one segment); a path that is one `{{ }}` is used as
    /// it is (a whole URL from an input or a credential).
    static func evaluatePath(_ text: String, label: String, context: ExpressionContext) throws(Failure) -> String {
        do {
            let template = try Template.parse(text)
            if template.parts.count == 1, case .expression = template.parts[0] {
                let value = try template.evaluate(in: context)
                return value.stringValue ?? value.serialized()
            }
            var result = ""
            for part in template.parts {
                switch part {
                case .text(let literal, _): result += literal
                case .expression(let expression, _):
                    let value = try Template.parse("{{ \(expression.text) }}").evaluate(in: context)
                    let unreserved = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8)
                    for byte in (value.stringValue ?? value.serialized()).utf8 {
                        result += unreserved.contains(byte) ? String(UnicodeScalar(byte)) : String(format: "%%%02X", byte)
                    }
                }
            }
            return result
        } catch {
            throw Failure(message: "\(label) path: \(error.message)")
        }
    }

    /// Mapping members whose value is null are left out (optional inputs not given).
    static func droppingNullMembers(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let members): return .object(members.filter { $0.value != .null }.mapValues(droppingNullMembers))
        case .array(let items): return .array(items.map(droppingNullMembers))
        default: return value
        }
    }

    /// The step output: the `output:` mapping over `response`, or the whole response.
    public func output(response: JSONValue) throws(Failure) -> JSONValue {
        guard let mapping = action.output else { return response }
        let context = ExpressionContext(roots: ["response": response, "inputs": .object(inputs)])
        var result: [String: JSONValue] = [:]
        for (key, text) in mapping {
            do {
                result[key] = try Template.parse(text).evaluate(in: context)
            } catch {
                throw Failure(message: "\(connector)/\(action.name) output.\(key): \(error.message)")
            }
        }
        return .object(result)
    }

    /// Why an answer with an expected status is still a failure (`fail_if:` held), or nil.
    public func failure(response: JSONValue) throws(Failure) -> String? {
        guard let failIf = action.failIf else { return nil }
        let context = ExpressionContext(roots: ["response": response, "inputs": .object(inputs)])
        do {
            guard ExpressionEvaluator.isTruthy(try Template.parse(failIf).evaluate(in: context)) else { return nil }
            guard let failMessage = action.failMessage else { return "fail_if holds: \(failIf)" }
            let message = try Template.parse(failMessage).evaluate(in: context)
            return message.stringValue ?? message.serialized()
        } catch {
            throw Failure(message: "\(connector)/\(action.name) fail_if: \(error.message)")
        }
    }

    /// Whether an HTTP status (or a command's exit code) counts as success.
    public func expects(_ code: Int) -> Bool {
        if !action.expect.isEmpty { return action.expect.contains(code) }
        switch work {
        case .request: return (200...299).contains(code)
        case .command: return code == 0
        }
    }

    /// Seconds from a Retry-After header (delta-seconds or an HTTP date), capped at `cap`.
    public static func retryAfter(_ header: String?, now: Date = Date(), cap: Duration = .seconds(3600)) -> Duration? {
        guard let text = header?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
        if let seconds = Int64(text), seconds >= 0 { return min(.seconds(seconds), cap) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: text) else { return nil }
        let seconds = max(0, date.timeIntervalSince(now))
        return min(.milliseconds(Int64(seconds * 1000)), cap)
    }

    /// A short, single-line excerpt of a response body for an error message.
    public static func excerpt(_ body: [UInt8], limit: Int = 200) -> String {
        var text = String(decoding: body.prefix(limit * 4), as: UTF8.self)
            .replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "\r", with: " ")
            .trimmingCharacters(in: .whitespaces)
        if text.count > limit { text = String(text.prefix(limit)) + "..." }
        return text
    }
}
