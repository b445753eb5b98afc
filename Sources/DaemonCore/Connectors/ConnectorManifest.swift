// ConnectorManifest.swift: the model of a connector manifest (SPEC section 7).
//
// A manifest names a service (`name`, `base_url`), the credentials its actions need and
// its actions. Each action declares typed inputs and is either a templated HTTP request
// (path appended to base_url, headers, query, JSON body, optional HMAC signature) or a
// command (argv and stdin). Templates see `inputs.*` and `credentials.*`; the `output:`
// mapping sees `response.*` (status, headers, body; exit_code, stdout, stderr for
// commands) and `inputs.*`. ConnectorManifestLoader builds and checks it.

/// The type of an action input.
public enum ConnectorInputType: String, Sendable, CaseIterable {
    case string, number, boolean, object, array
}

/// One declared input of an action.
public struct ConnectorInput: Sendable, Equatable {
    public var name: String
    public var type: ConnectorInputType
    public var required: Bool
    public var defaultValue: JSONValue?
    public var description: String?
    /// A string that must not hold CR or LF (mail headers).
    public var singleLine: Bool
}

/// The HMAC-SHA256 signature of the request body, sent when the credential is loaded.
public struct ConnectorSigning: Sendable, Equatable {
    /// The header, e.g. X-Flowd-Signature; its value is `sha256=<hex>`.
    public var header: String
    public var credential: String
}

/// A templated HTTP request.
public struct ConnectorRequest: Sendable, Equatable {
    public var method: String
    /// Appended to the manifest's base_url, or a whole URL when the manifest has none.
    public var path: String
    public var headers: [String: String] = [:]
    public var query: [String: String] = [:]
    public var body: JSONValue?
    public var sign: ConnectorSigning?
}

/// A templated command: argv[0] is an absolute path.
public struct ConnectorCommand: Sendable, Equatable {
    public var argv: [String]
    public var standardInput: String?
}

/// One action of a connector.
public struct ConnectorAction: Sendable, Equatable {
    public enum Operation: Sendable, Equatable {
        case request(ConnectorRequest)
        case command(ConnectorCommand)
    }

    public var name: String
    public var description: String?
    /// Credentials this action needs (default: the manifest's `credentials`).
    public var credentials: [String]
    /// In declaration order.
    public var inputs: [ConnectorInput]
    public var operation: Operation
    /// Statuses (or exit codes for commands) that count as success; empty: 2xx (or 0).
    public var expect: [Int]
    /// Output keys mapped from templates; nil: the whole response.
    public var output: [String: String]?
    /// A template over `response` and `inputs`: when it is true an expected status still
    /// fails the step (APIs such as Slack's answer 200 with `ok: false`).
    public var failIf: String?
    /// The step's error when `failIf` holds (a template over the same roots).
    public var failMessage: String?

    public func input(_ name: String) -> ConnectorInput? { inputs.first { $0.name == name } }
}

/// A loaded connector manifest.
public struct ConnectorManifest: Sendable, Equatable {
    public var name: String
    public var description: String?
    public var baseURL: String?
    /// Credentials the actions need (each action names its own, default all of these).
    public var credentials: [String]
    /// Credentials used when present (e.g. a signing secret).
    public var optionalCredentials: [String]
    public var actions: [String: ConnectorAction]
    /// The file it came from.
    public var sourcePath: String
}
