// CredentialStore.swift: secrets for `{{ credentials.NAME }}`, and their redaction.
//
// Credentials are files: in $CREDENTIALS_DIRECTORY (systemd LoadCredential=) or in
// `credentials_dir` of flowd.yaml. A file readable by group or others is refused with a
// clear error (mode 0600 or stricter). Values are read at start and on reload; a
// trailing newline is dropped. Wherever flowd records a value (journal, journald, logs,
// flowadm output, live events), every secret value in it is replaced by "***".

import Synchronization

/// The loaded credentials and the redaction of their values. Thread-safe.
public final class CredentialStore: Sendable {
    /// Guarded by the Mutex: values by name, and problems by name.
    private let state = Mutex<(values: [String: String], problems: [String: String])>(([:], [:]))

    public init() {}

    /// Re-reads the credential directories (systemd's first, then `credentials_dir`).
    public func load(systemdDirectory: String?, configuredDirectory: String?) {
        var values: [String: String] = [:]
        var problems: [String: String] = [:]
        for directory in [configuredDirectory, systemdDirectory].compactMap({ $0 }) {
            for name in (try? FileSystem.entries(directory)) ?? [] where !name.hasPrefix(".") {
                let path = directory + "/" + name
                do {
                    let status = try FileSystem.status(path)
                    guard status.kind == .regular else { continue }
                    guard status.mode & 0o077 == 0 else {
                        problems[name] = "credential \(name) (\(path)) has mode 0\(String(status.mode & 0o777, radix: 8)); "
                            + "it must be 0600 or stricter"
                        continue
                    }
                    var bytes = try FileSystem.readRegularFile(path, maxBytes: 64 * 1024)
                    if bytes.last == UInt8(ascii: "\n") { bytes.removeLast() }
                    values[name] = String(decoding: bytes, as: UTF8.self)
                    problems[name] = nil
                } catch {
                    problems[name] = "credential \(name) could not be read: \(error)"
                }
            }
        }
        state.withLock { $0 = (values, problems) }
    }

    /// The `credentials` expression root: loaded values. (Problems surface as errors
    /// when a step refers to such a credential: it is simply not in the map.)
    public var expressionValue: JSONValue {
        .object(state.withLock { $0.values }.mapValues(JSONValue.string))
    }

    /// Why credential `name` is unusable, when it is.
    public func problem(_ name: String) -> String? { state.withLock { $0.problems[name] } }

    /// The names of loaded credentials and of refused ones (for flowadm, never values).
    public var names: (loaded: [String], refused: [String: String]) {
        state.withLock { (Array($0.values.keys).sorted(), $0.problems) }
    }

    /// `text` with every secret value replaced by "***".
    public func redact(_ text: String) -> String {
        let secrets = state.withLock { Array($0.values.values) }
        return secrets.isEmpty ? text : HTTPClient.redact(text, secrets: secrets)
    }

    /// A JSON value with every string redacted.
    public func redact(_ value: JSONValue) -> JSONValue {
        guard state.withLock({ !$0.values.isEmpty }) else { return value }
        switch value {
        case .string(let text): return .string(redact(text))
        case .array(let items): return .array(items.map(redact))
        case .object(let members):
            var result: [String: JSONValue] = [:]
            for (key, item) in members { result[redact(key)] = redact(item) }
            return .object(result)
        default: return value
        }
    }
}

extension JournalWrite {
    /// The same write with every recorded text free of secret values.
    func redacted(by store: CredentialStore) -> JournalWrite {
        switch self {
        case .runCreated(var record):
            record.payload = store.redact(record.payload)
            record.vars = store.redact(record.vars)
            return .runCreated(record)
        case .runFinished(let runID, let status, let at, let failedStep, let error):
            return .runFinished(runID: runID, status: status, at: at, failedStep: failedStep, error: error.map(store.redact))
        case .attemptStarted(let runID, let stepIndex, let stepID, let attempt, let at, let kind, let input, let wakeAt):
            return .attemptStarted(runID: runID, stepIndex: stepIndex, stepID: stepID, attempt: attempt, at: at, kind: kind,
                                   input: store.redact(input), wakeAt: wakeAt)
        case .attemptFinished(var end):
            end.standardOutput = store.redact(end.standardOutput)
            end.standardError = store.redact(end.standardError)
            end.error = end.error.map(store.redact)
            end.output = store.redact(end.output)
            return .attemptFinished(end)
        case .event(var event):
            event.details = store.redact(event.details)
            return .event(event)
        default:
            return self
        }
    }
}
