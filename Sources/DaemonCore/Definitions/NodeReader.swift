// NodeReader.swift: typed reads from a YAML node tree, collecting errors with positions.
//
// Loaders for workflows and flowd.yaml use one NodeReader per file. Each read either
// returns a value or records "file:line:column: expected X, found Y" and returns nil,
// so a loader goes on and reports every error of the file at once.

/// Reads typed values out of YAML nodes and accumulates the errors.
final class NodeReader {
    private(set) var errors: [DefinitionError] = []

    func report(_ node: YAMLNode, _ message: String) {
        errors.append(DefinitionError(node.location, message))
    }

    func report(_ location: SourceLocation, _ message: String) {
        errors.append(DefinitionError(location, message))
    }

    /// The members of a mapping node keyed by their text; unknown keys are reported,
    /// except those starting with `ignoredPrefix` (extension keys that hold anchors).
    func mapping(_ node: YAMLNode, what: String, allowed: [String], ignoredPrefix: String? = nil) -> [String: YAMLNode]? {
        guard let pairs = node.pairs else {
            report(node, "\(what) must be a mapping, found \(node.kindName)")
            return nil
        }
        var members: [String: YAMLNode] = [:]
        for pair in pairs {
            guard let key = pair.key.scalarText else { continue }
            if allowed.contains(key) {
                members[key] = pair.value
            } else if let ignoredPrefix, key.hasPrefix(ignoredPrefix) {
                continue
            } else {
                report(pair.key, "unknown key \(quote(key)) in \(what); expected one of: \(allowed.joined(separator: ", "))")
            }
        }
        return members
    }

    func string(_ node: YAMLNode, what: String) -> String? {
        guard case .scalar(let text, _) = node.content, node.resolvedScalar != .null else {
            report(node, "\(what) must be a string, found \(node.kindName)")
            return nil
        }
        return text
    }

    func integer(_ node: YAMLNode, what: String, range: ClosedRange<Int>) -> Int? {
        guard case .int(let value)? = node.resolvedScalar else {
            report(node, "\(what) must be an integer, found \(node.kindName)")
            return nil
        }
        guard range.contains(Int(clamping: value)) else {
            report(node, "\(what) must be between \(range.lowerBound) and \(range.upperBound), found \(value)")
            return nil
        }
        return Int(value)
    }

    func boolean(_ node: YAMLNode, what: String) -> Bool? {
        guard case .bool(let value)? = node.resolvedScalar else {
            report(node, "\(what) must be true or false, found \(node.kindName)")
            return nil
        }
        return value
    }

    func duration(_ node: YAMLNode, what: String) -> Duration? {
        guard let text = node.scalarText, let duration = DurationText.parse(text) else {
            report(node, "\(what) must be a duration like 500ms, 10s, 5m, 2h or 1d")
            return nil
        }
        return duration
    }

    func size(_ node: YAMLNode, what: String) -> Int? {
        guard let text = node.scalarText, let size = SizeText.parse(text) else {
            report(node, "\(what) must be a size like 512, 64KiB or 1MiB")
            return nil
        }
        return size
    }

    /// A mapping of string keys to scalar values, kept as text (environment variables).
    func stringMap(_ node: YAMLNode, what: String) -> [String: String]? {
        guard let pairs = node.pairs else {
            report(node, "\(what) must be a mapping, found \(node.kindName)")
            return nil
        }
        var result: [String: String] = [:]
        for pair in pairs {
            guard let key = pair.key.scalarText else { continue }
            guard case .scalar(let value, _) = pair.value.content else {
                report(pair.value, "\(what).\(key) must be a string, found \(pair.value.kindName)")
                continue
            }
            result[key] = value
        }
        return result
    }

    func stringList(_ node: YAMLNode, what: String) -> [String]? {
        guard let items = node.items else {
            report(node, "\(what) must be a list, found \(node.kindName)")
            return nil
        }
        return items.compactMap { string($0, what: "an item of \(what)") }
    }
}

extension NodeReader {
    /// A duration greater than zero.
    func positiveDuration(_ node: YAMLNode, what: String) -> Duration? {
        guard let duration = duration(node, what: what) else { return nil }
        guard duration > .zero else {
            report(node, "\(what) must be longer than 0")
            return nil
        }
        return duration
    }

    /// A number (integer or not) of at least `minimum`.
    func number(_ node: YAMLNode, what: String, minimum: Double, maximum: Double) -> Double? {
        let value: Double
        switch node.resolvedScalar {
        case .int(let number)?: value = Double(number)
        case .double(let number)? where number.isFinite: value = number
        default:
            report(node, "\(what) must be a number, found \(node.kindName)")
            return nil
        }
        guard value >= minimum && value <= maximum else {
            report(node, "\(what) must be between \(minimum) and \(maximum), found \(value)")
            return nil
        }
        return value
    }

    /// A list of integers in `range`.
    func integerList(_ node: YAMLNode, what: String, range: ClosedRange<Int>) -> [Int]? {
        guard let items = node.items else {
            report(node, "\(what) must be a list, found \(node.kindName)")
            return nil
        }
        return items.compactMap { integer($0, what: "an item of \(what)", range: range) }
    }

    /// A string, or a list of strings: `owners: ops` and `owners: [ops, dba]`.
    func stringOrList(_ node: YAMLNode, what: String) -> [(text: String, node: YAMLNode)]? {
        if case .scalar = node.content {
            return string(node, what: what).map { [($0, node)] }
        }
        guard let items = node.items else {
            report(node, "\(what) must be a string or a list of strings, found \(node.kindName)")
            return nil
        }
        return items.compactMap { item in string(item, what: "an item of \(what)").map { ($0, item) } }
    }
}

/// `text` in double quotes for a message: control characters escaped, at most 80
/// characters (longer text is cut with "...").
func quote(_ text: String) -> String {
    var result = "\""
    for (index, scalar) in text.unicodeScalars.enumerated() {
        if index == 80 { result += "..."; break }
        switch scalar {
        case "\"": result += "\\\""
        case "\\": result += "\\\\"
        case "\n": result += "\\n"
        case "\t": result += "\\t"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7f || (0x80..<0xa0).contains(scalar.value) {
                result += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
    }
    return result + "\""
}
