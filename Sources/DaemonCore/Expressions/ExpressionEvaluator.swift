// ExpressionEvaluator.swift: evaluates an ExpressionNode against an ExpressionContext.
//
// Pure: it reads the context and builds values, nothing else. Paths fail with messages
// naming the path walked so far ("no field 'status' in steps.upload.output"); those
// "missing value" failures (unknown root, missing field, index out of range, field of
// null) are the only ones `default()` swallows. Type mismatches are plain failures.
// Recursion follows the tree, whose depth the parser bounds.

struct ExpressionEvaluator {
    let roots: [String: JSONValue]

    func evaluate(_ node: ExpressionNode) throws(EvaluationFailure) -> JSONValue {
        switch node {
        case .literal(let value, _):
            return value
        case .root(let name, let offset):
            guard let value = roots[name] else {
                let known = roots.keys.sorted().joined(separator: ", ")
                throw .missing("unknown name '\(name)'" + (known.isEmpty ? "" : "; known: \(known)"), at: offset)
            }
            return value
        case .access(let base, let baseText, let accessors):
            return try evaluateAccess(base: base, baseText: baseText, accessors: accessors)
        case .not(let operand, _):
            return .bool(!Self.isTruthy(try evaluate(operand)))
        case .logical(let logical, let operands):
            // `&&` stops at the first false operand, `||` at the first true one.
            let stopsAt = logical == .or
            for operand in operands where Self.isTruthy(try evaluate(operand)) == stopsAt {
                return .bool(stopsAt)
            }
            return .bool(!stopsAt)
        case .comparison(let comparison, let left, let right, let operatorOffset):
            return .bool(try compare(comparison, try evaluate(left), try evaluate(right), at: operatorOffset))
        case .call(let function, let arguments, let offset):
            return try call(function, arguments, at: offset)
        }
    }

    // MARK: - Paths

    private func evaluateAccess(
        base: ExpressionNode, baseText: String, accessors: [PathAccessor]
    ) throws(EvaluationFailure) -> JSONValue {
        var value = try evaluate(base)
        var path: String
        if case .root(let name, _) = base { path = name } else { path = baseText }
        for accessor in accessors {
            switch accessor {
            case .member(let name, let offset):
                value = try Self.member(name, of: value, path: path, at: offset)
                path += Self.pathComponent(name)
            case .index(let indexNode, let offset):
                let index = try evaluate(indexNode)
                switch index {
                case .string(let key):
                    value = try Self.member(key, of: value, path: path, at: offset)
                    path += Self.pathComponent(key)
                case .int, .double:
                    guard let position = index.intValue else {
                        throw .invalid("index \(index.serialized()) is not a whole number (in \(path))", at: indexNode.offset)
                    }
                    value = try Self.element(position, of: value, path: path, at: offset)
                    path += "[\(position)]"
                default:
                    throw .invalid(
                        "an index must be a number or a string, got \(describeKind(index)) (in \(path))",
                        at: indexNode.offset)
                }
            }
        }
        return value
    }

    private static func member(_ name: String, of value: JSONValue, path: String, at offset: Int)
        throws(EvaluationFailure) -> JSONValue
    {
        switch value {
        case .object(let members):
            guard let member = members[name] else { throw .missing("no field '\(name)' in \(path)", at: offset) }
            return member
        case .null:
            throw .missing("no field '\(name)' in \(path): it is null", at: offset)
        default:
            throw .invalid("cannot read field '\(name)': \(path) is \(describeKind(value)), not an object", at: offset)
        }
    }

    private static func element(_ position: Int64, of value: JSONValue, path: String, at offset: Int)
        throws(EvaluationFailure) -> JSONValue
    {
        switch value {
        case .array(let items):
            guard position >= 0, position < items.count else {
                throw .missing("index \(position) out of range (length \(items.count)) in \(path)", at: offset)
            }
            return items[Int(position)]
        case .null:
            throw .missing("no index \(position) in \(path): it is null", at: offset)
        default:
            throw .invalid(
                "cannot index \(path) with a number: it is \(describeKind(value)), not an array", at: offset)
        }
    }

    /// `.name` when the key reads as a name, else `["key"]`, to extend a path in messages.
    private static func pathComponent(_ key: String) -> String {
        let scalars = key.unicodeScalars
        if let first = scalars.first, ExpressionLexer.isNameStart(first) || ExpressionLexer.isDigit(first),
           scalars.allSatisfy(ExpressionLexer.isNameCharacter) {
            return "." + key
        }
        return "[" + JSONValue.string(key).serialized() + "]"
    }

    // MARK: - Operators

    /// false, null, 0, 0.0, "", [] and {} are false; everything else is true.
    static func isTruthy(_ value: JSONValue) -> Bool {
        switch value {
        case .null: return false
        case .bool(let flag): return flag
        case .int(let number): return number != 0
        case .double(let number): return number != 0
        case .string(let text): return !text.isEmpty
        case .array(let items): return !items.isEmpty
        case .object(let members): return !members.isEmpty
        }
    }

    /// Deep equality; integers and doubles compare by value (1 == 1.0), strings by scalars.
    static func areEqual(_ left: JSONValue, _ right: JSONValue) -> Bool {
        switch (left, right) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.int(let a), .int(let b)): return a == b
        case (.double(let a), .double(let b)): return a == b
        case (.int(let a), .double(let b)), (.double(let b), .int(let a)): return Int64(exactly: b) == a
        case (.string(let a), .string(let b)): return a.unicodeScalars.elementsEqual(b.unicodeScalars)
        case (.array(let a), .array(let b)): return a.count == b.count && zip(a, b).allSatisfy { areEqual($0, $1) }
        case (.object(let a), .object(let b)):
            return a.count == b.count && a.allSatisfy { key, value in b[key].map { areEqual(value, $0) } ?? false }
        default: return false
        }
    }

    private func compare(
        _ comparison: ComparisonOperator, _ left: JSONValue, _ right: JSONValue, at offset: Int
    ) throws(EvaluationFailure) -> Bool {
        switch comparison {
        case .equal: return Self.areEqual(left, right)
        case .notEqual: return !Self.areEqual(left, right)
        case .contains: return try Self.contains(right, left, operation: "'in'", at: offset)
        case .less, .lessOrEqual, .greater, .greaterOrEqual:
            let ordering: Int
            switch (left, right) {
            case (.int(let a), .int(let b)): ordering = a < b ? -1 : (a == b ? 0 : 1)
            case (.int, .double), (.double, .int), (.double, .double):
                let a = Self.doubleValue(left), b = Self.doubleValue(right)
                ordering = a < b ? -1 : (a == b ? 0 : 1)
            case (.string(let a), .string(let b)):
                if a.unicodeScalars.elementsEqual(b.unicodeScalars) { ordering = 0 }
                else { ordering = a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars) ? -1 : 1 }
            default:
                throw .invalid(
                    "cannot compare \(describeKind(left)) with \(describeKind(right)); "
                        + "'\(comparison.rawValue)' needs two numbers or two strings",
                    at: offset)
            }
            switch comparison {
            case .less: return ordering < 0
            case .lessOrEqual: return ordering <= 0
            case .greater: return ordering > 0
            default: return ordering >= 0
            }
        }
    }

    private static func doubleValue(_ value: JSONValue) -> Double {
        switch value {
        case .int(let number): return Double(number)
        case .double(let number): return number
        default: preconditionFailure("doubleValue of a non-number")
        }
    }

    /// `needle in haystack`: element of an array, substring of a string, key of an object.
    /// `operation` names the operator or function in messages.
    static func contains(_ haystack: JSONValue, _ needle: JSONValue, operation: String, at offset: Int)
        throws(EvaluationFailure) -> Bool
    {
        switch haystack {
        case .array(let items):
            return items.contains { areEqual($0, needle) }
        case .string(let text):
            guard case .string(let part) = needle else {
                throw .invalid(
                    "\(operation) on a string needs a string to look for, got \(describeKind(needle))", at: offset)
            }
            return TextSearch.contains(Array(text.utf8), Array(part.utf8))
        case .object(let members):
            guard case .string(let key) = needle else {
                throw .invalid(
                    "\(operation) on an object needs a string key to look for, got \(describeKind(needle))",
                    at: offset)
            }
            return members[key] != nil
        default:
            throw .invalid(
                "\(operation) needs an array, a string or an object to look in, got \(describeKind(haystack))",
                at: offset)
        }
    }
}
