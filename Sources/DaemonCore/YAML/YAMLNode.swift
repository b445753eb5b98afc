// YAMLNode.swift: the node tree the YAML layer hands to the rest of flowd.
//
// Every node carries the position where it starts, so that a definition error can say
// `file:line:column: what was expected`. The tree is a plain value: aliases are already
// expanded into copies and `<<` merge keys already applied, so consumers never see
// anchors. Nothing here fails; parse errors are `YAMLError` values thrown by YAMLParser.

/// A position in a source file. Line and column are 1-based; the description is
/// `file:line:column`.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    /// The file name as given to the parser (a path, or a label for in-memory text).
    public var file: String
    /// 1-based line.
    public var line: Int
    /// 1-based column, counted in characters.
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }
}

/// How a scalar was written. Only plain scalars are resolved by the core schema;
/// every other style is a string.
public enum YAMLScalarStyle: Sendable {
    case plain, singleQuoted, doubleQuoted, literal, folded
}

/// One key/value entry of a mapping, in source order.
public struct YAMLPair: Sendable {
    public var key: YAMLNode
    public var value: YAMLNode

    public init(key: YAMLNode, value: YAMLNode) {
        self.key = key
        self.value = value
    }
}

/// A node of a parsed YAML document: a scalar, a sequence or a mapping, with the
/// position of its first character (its anchor or tag when it has one).
public struct YAMLNode: Sendable {
    public enum Content: Sendable {
        /// The scalar's text after unescaping and folding, and how it was written.
        case scalar(String, YAMLScalarStyle)
        case sequence([YAMLNode])
        /// Pairs in source order; merge keys are already applied.
        case mapping([YAMLPair])
    }

    public var content: Content
    /// The start mark of the node. An alias copy keeps the anchored node's location.
    public var location: SourceLocation
    /// The explicit tag in full form, e.g. `tag:yaml.org,2002:str`; nil when none.
    public var tag: String?

    public init(content: Content, location: SourceLocation, tag: String? = nil) {
        self.content = content
        self.location = location
        self.tag = tag
    }
}

/// A YAML error: where and what. The description is `file:line:column: message`.
public struct YAMLError: Error, Sendable, CustomStringConvertible, Equatable {
    public var location: SourceLocation
    public var message: String

    public init(location: SourceLocation, message: String) {
        self.location = location
        self.message = message
    }

    public var description: String { "\(location): \(message)" }
}

/// Bounds on what one YAML input may cost. Every limit is checked while parsing, so an
/// oversized or hostile input fails early with a positioned error.
public struct YAMLLimits: Sendable {
    /// Largest accepted input, in bytes.
    public var maxBytes: Int
    /// Deepest accepted nesting of sequences and mappings.
    public var maxDepth: Int
    /// Most nodes the document may expand to, counting every alias copy (the
    /// billion-laughs guard).
    public var maxNodes: Int

    public init(maxBytes: Int = 1 << 20, maxDepth: Int = 64, maxNodes: Int = 100_000) {
        precondition(maxBytes >= 0 && maxDepth >= 0 && maxNodes >= 0, "YAML limits must not be negative")
        self.maxBytes = maxBytes
        self.maxDepth = maxDepth
        self.maxNodes = maxNodes
    }

    /// 1 MiB, 64 levels, 100 000 nodes.
    public static let `default` = YAMLLimits()
}

extension YAMLNode {
    /// The raw text when this is a scalar, whatever its style.
    public var scalarText: String? {
        if case .scalar(let text, _) = content { return text }
        return nil
    }

    /// The pairs when this is a mapping, with merge keys already applied.
    public var pairs: [YAMLPair]? {
        if case .mapping(let pairs) = content { return pairs }
        return nil
    }

    /// The items when this is a sequence.
    public var items: [YAMLNode]? {
        if case .sequence(let items) = content { return items }
        return nil
    }

    /// The value of the first pair whose key's scalar text is `key`; nil when this is
    /// not a mapping or has no such key.
    public subscript(key: String) -> YAMLNode? {
        pairs?.first(where: { $0.key.scalarText == key })?.value
    }
}
