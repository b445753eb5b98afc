// ExpressionFunctions.swift: the built-in functions of the expression language.
//
// len, contains, startswith, endswith, lower, upper, json, default, basename, dirname.
// Names and arity were checked by the parser; argument types are checked here and a
// wrong type is an evaluation error at the argument. Strings a function builds are
// bounded by ExpressionLimits.maxResultBytes. Text matching works on Unicode scalars
// (through their UTF-8 bytes), in linear time, like `<` and `==` on strings.

extension ExpressionEvaluator {
    func call(_ function: ExpressionFunction, _ arguments: [ExpressionNode], at offset: Int)
        throws(EvaluationFailure) -> JSONValue
    {
        if function == .default { return try fallback(arguments) }
        var values: [JSONValue] = []
        for argument in arguments { values.append(try evaluate(argument)) }
        let name = function.rawValue
        switch function {
        case .len:
            switch values[0] {
            case .string(let text): return .int(Int64(text.unicodeScalars.count))
            case .array(let items): return .int(Int64(items.count))
            case .object(let members): return .int(Int64(members.count))
            default:
                throw .invalid(
                    "len() needs a string, an array or an object, got \(describeKind(values[0]))",
                    at: arguments[0].offset)
            }
        case .contains:
            return .bool(try Self.contains(values[0], values[1], operation: "contains()", at: arguments[0].offset))
        case .startswith, .endswith:
            let text = try string(values, arguments, 0, of: name)
            let part = try string(values, arguments, 1, of: name)
            if function == .startswith { return .bool(text.utf8.starts(with: part.utf8)) }
            return .bool(text.utf8.reversed().starts(with: part.utf8.reversed()))
        case .lower:
            return try Self.bounded(try string(values, arguments, 0, of: name).lowercased(), of: name, at: offset)
        case .upper:
            return try Self.bounded(try string(values, arguments, 0, of: name).uppercased(), of: name, at: offset)
        case .json:
            return try Self.bounded(values[0].serialized(), of: name, at: offset)
        case .basename:
            return .string(Self.basename(try string(values, arguments, 0, of: name)))
        case .dirname:
            return .string(Self.dirname(try string(values, arguments, 0, of: name)))
        case .default:
            preconditionFailure("default() is evaluated lazily above")
        }
    }

    /// `default(x, fallback)`: x unless it is null or missing (unknown name, missing
    /// field or index); then the fallback. Any other failure of x is reported.
    private func fallback(_ arguments: [ExpressionNode]) throws(EvaluationFailure) -> JSONValue {
        do {
            let value = try evaluate(arguments[0])
            if value != .null { return value }
        } catch where error.isMissingValue {
            // Swallowed: this is what default() is for.
        }
        return try evaluate(arguments[1])
    }

    private func string(_ values: [JSONValue], _ arguments: [ExpressionNode], _ position: Int, of name: String)
        throws(EvaluationFailure) -> String
    {
        guard case .string(let text) = values[position] else {
            let ordinal = position == 0 ? "" : " as its second argument"
            throw .invalid(
                "\(name)() needs a string\(ordinal), got \(describeKind(values[position]))",
                at: arguments[position].offset)
        }
        return text
    }

    /// `text` as a value, or an error when it is over ExpressionLimits.maxResultBytes.
    static func bounded(_ text: String, of name: String, at offset: Int) throws(EvaluationFailure) -> JSONValue {
        let size = text.utf8.count
        guard size <= ExpressionLimits.maxResultBytes else {
            throw .invalid(
                "the result of \(name)() is \(size) bytes, over the limit of \(ExpressionLimits.maxResultBytes)",
                at: offset)
        }
        return .string(text)
    }

    /// POSIX basename: basename("/a/b/") == "b", basename("/") == "/", basename("") == ".".
    static func basename(_ path: String) -> String {
        var bytes = Array(path.utf8)[...]
        let slash = UInt8(ascii: "/")
        if bytes.isEmpty { return "." }
        while bytes.count > 1 && bytes.last == slash { bytes.removeLast() }
        if bytes.count > 1, let lastSlash = bytes.lastIndex(of: slash) { bytes = bytes[(lastSlash + 1)...] }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// POSIX dirname: dirname("/a/b/") == "/a", dirname("file") == ".", dirname("/a") == "/".
    static func dirname(_ path: String) -> String {
        var bytes = Array(path.utf8)[...]
        let slash = UInt8(ascii: "/")
        while bytes.count > 1 && bytes.last == slash { bytes.removeLast() }
        guard let lastSlash = bytes.lastIndex(of: slash) else { return "." }
        bytes = bytes[..<lastSlash]
        while bytes.count > 1 && bytes.last == slash { bytes.removeLast() }
        if bytes.isEmpty { return "/" }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Substring search in linear time (Knuth-Morris-Pratt), so that `x in y` costs
/// O(len(x) + len(y)) whatever the text.
enum TextSearch {
    static func contains(_ text: [UInt8], _ pattern: [UInt8]) -> Bool {
        if pattern.isEmpty { return true }
        if pattern.count > text.count { return false }
        // fallback[i]: length of the longest proper prefix of pattern[0...i] that is also its suffix.
        var fallback = [Int](repeating: 0, count: pattern.count)
        var matched = 0
        for position in 1..<pattern.count {
            while matched > 0 && pattern[position] != pattern[matched] { matched = fallback[matched - 1] }
            if pattern[position] == pattern[matched] { matched += 1 }
            fallback[position] = matched
        }
        matched = 0
        for byte in text {
            while matched > 0 && byte != pattern[matched] { matched = fallback[matched - 1] }
            if byte == pattern[matched] {
                matched += 1
                if matched == pattern.count { return true }
            }
        }
        return false
    }
}
