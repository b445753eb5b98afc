// YAMLCoreSchema.swift: what a scalar means, per the YAML 1.2 core schema.
//
// Only plain scalars are resolved: `null`/`~`/empty are null, `true`/`false` (three
// casings) are booleans, decimal/0o/0x integers are integers, core-schema floats
// (with .inf and .nan) are doubles, and everything else, `on`, `yes` and `no`
// included, is a string. Quoted and block scalars are strings. The explicit tags !!str,
// !!int, !!bool, !!null and !!float are honoured. A scalar that does not fit its tag,
// an integer past 64 bits or an unsupported tag is a resolution failure; the parser
// reports it with the scalar's position, so `resolvedScalar` on a parsed tree never
// meets one.

/// A scalar resolved by the YAML 1.2 core schema.
public enum YAMLScalar: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
}

/// Why a scalar could not be resolved; the parser adds the position.
struct YAMLResolutionFailure: Error {
    var message: String
}

/// The YAML 1.2 core schema, for scalars.
enum YAMLCoreSchema {
    static let standardTagPrefix = "tag:yaml.org,2002:"
    static let stringTag = standardTagPrefix + "str"
    static let integerTag = standardTagPrefix + "int"
    static let floatTag = standardTagPrefix + "float"
    static let booleanTag = standardTagPrefix + "bool"
    static let nullTag = standardTagPrefix + "null"
    static let mergeTag = standardTagPrefix + "merge"
    static let sequenceTag = standardTagPrefix + "seq"
    static let mappingTag = standardTagPrefix + "map"
    /// The non-specific tag `!`: "not resolved by content", so a string for scalars.
    static let nonSpecificTag = "!"

    /// The tag as a reader wrote it: `!!int` rather than `tag:yaml.org,2002:int`.
    static func shortName(ofTag tag: String) -> String {
        tag.hasPrefix(standardTagPrefix) ? "!!" + tag.dropFirst(standardTagPrefix.count) : tag
    }

    /// Resolves a scalar written as `text` in `style`, with an optional explicit tag.
    static func resolve(
        _ text: String, style: YAMLScalarStyle, tag: String?
    ) throws(YAMLResolutionFailure) -> YAMLScalar {
        guard let tag else {
            return style == .plain ? try resolvePlain(text) : .string(text)
        }
        let mismatch = YAMLResolutionFailure(
            message: "\"\(text)\" is not a valid value for tag \(shortName(ofTag: tag))")
        switch tag {
        case stringTag, nonSpecificTag, mergeTag:
            return .string(text)
        case nullTag:
            guard isNull(text) else { throw mismatch }
            return .null
        case booleanTag:
            guard let flag = boolean(text) else { throw mismatch }
            return .bool(flag)
        case integerTag:
            guard let number = try integer(text) else { throw mismatch }
            return .int(number)
        case floatTag:
            if let number = float(text) { return .double(number) }
            guard let number = try integer(text) else { throw mismatch }
            return .double(Double(number))
        default:
            throw YAMLResolutionFailure(message: "unsupported tag \(shortName(ofTag: tag)) on a scalar")
        }
    }

    private static func resolvePlain(_ text: String) throws(YAMLResolutionFailure) -> YAMLScalar {
        if isNull(text) { return .null }
        if let flag = boolean(text) { return .bool(flag) }
        if let number = try integer(text) { return .int(number) }
        if let number = float(text) { return .double(number) }
        return .string(text)
    }

    private static func isNull(_ text: String) -> Bool {
        switch text {
        case "", "~", "null", "Null", "NULL": return true
        default: return false
        }
    }

    private static func boolean(_ text: String) -> Bool? {
        switch text {
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        default: return nil
        }
    }

    /// The integer `text` spells (`[-+]?[0-9]+`, `0o[0-7]+`, `0x[0-9a-fA-F]+`), nil when
    /// it spells none; throws when it spells one that does not fit in 64 bits.
    private static func integer(_ text: String) throws(YAMLResolutionFailure) -> Int64? {
        let characters = Array(text.utf8)
        let digits: ArraySlice<UInt8>
        let radix: Int
        if characters.count > 2, characters[0] == UInt8(ascii: "0"), characters[1] == UInt8(ascii: "o") {
            (digits, radix) = (characters[2...], 8)
            guard digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "7") }) else { return nil }
        } else if characters.count > 2, characters[0] == UInt8(ascii: "0"), characters[1] == UInt8(ascii: "x") {
            (digits, radix) = (characters[2...], 16)
            guard digits.allSatisfy(isHexDigit) else { return nil }
        } else {
            let hasSign = characters.first == UInt8(ascii: "-") || characters.first == UInt8(ascii: "+")
            let unsigned = characters.dropFirst(hasSign ? 1 : 0)
            guard !unsigned.isEmpty, unsigned.allSatisfy(isDecimalDigit) else { return nil }
            (digits, radix) = (characters[...], 10)
        }
        guard let number = Int64(String(decoding: digits, as: UTF8.self), radix: radix) else {
            throw YAMLResolutionFailure(message: "integer \(text) does not fit in 64 bits")
        }
        return number
    }

    /// The double `text` spells per the core schema, nil when it spells none.
    private static func float(_ text: String) -> Double? {
        switch text {
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .infinity
        case "-.inf", "-.Inf", "-.INF": return -.infinity
        case ".nan", ".NaN", ".NAN": return .nan
        default: break
        }
        guard matchesFloatPattern(Array(text.utf8)) else { return nil }
        return Double(text)
    }

    /// `[-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?`
    private static func matchesFloatPattern(_ characters: [UInt8]) -> Bool {
        var index = 0
        func skipDigits() -> Int {
            let start = index
            while index < characters.count, isDecimalDigit(characters[index]) { index += 1 }
            return index - start
        }
        func skip(_ accepted: String) -> Bool {
            guard index < characters.count, accepted.utf8.contains(characters[index]) else { return false }
            index += 1
            return true
        }
        _ = skip("+-")
        let integerDigits = skipDigits()
        if skip(".") {
            let fractionDigits = skipDigits()
            guard integerDigits > 0 || fractionDigits > 0 else { return false }
        } else {
            guard integerDigits > 0 else { return false }
        }
        if skip("eE") {
            _ = skip("+-")
            guard skipDigits() > 0 else { return false }
        }
        return index == characters.count
    }

    private static func isDecimalDigit(_ character: UInt8) -> Bool {
        character >= UInt8(ascii: "0") && character <= UInt8(ascii: "9")
    }

    private static func isHexDigit(_ character: UInt8) -> Bool {
        isDecimalDigit(character)
            || (character >= UInt8(ascii: "a") && character <= UInt8(ascii: "f"))
            || (character >= UInt8(ascii: "A") && character <= UInt8(ascii: "F"))
    }
}

extension YAMLNode {
    /// The scalar's meaning per the YAML 1.2 core schema and its explicit tag; nil when
    /// this is not a scalar. (A parsed tree has had every scalar checked; a hand-built
    /// scalar that fails to resolve reads as its text.)
    public var resolvedScalar: YAMLScalar? {
        guard case .scalar(let text, let style) = content else { return nil }
        return (try? YAMLCoreSchema.resolve(text, style: style, tag: tag)) ?? .string(text)
    }

    /// What kind of value this is, for messages such as "expected a mapping, found a
    /// sequence": "a mapping", "a sequence", "a string", "a number", "a boolean", "null".
    public var kindName: String {
        switch content {
        case .mapping: return "a mapping"
        case .sequence: return "a sequence"
        case .scalar:
            switch resolvedScalar {
            case .null: return "null"
            case .bool: return "a boolean"
            case .int, .double: return "a number"
            case .string, nil: return "a string"
            }
        }
    }

    /// The node as JSON: scalars resolved per the core schema, mapping keys as their
    /// scalar text (the first of equal keys wins), sequences as arrays.
    public func toJSON() -> JSONValue {
        switch content {
        case .scalar(let text, _):
            switch resolvedScalar ?? .string(text) {
            case .null: return .null
            case .bool(let flag): return .bool(flag)
            case .int(let number): return .int(number)
            case .double(let number): return .double(number)
            case .string(let string): return .string(string)
            }
        case .sequence(let items):
            return .array(items.map { $0.toJSON() })
        case .mapping(let pairs):
            var members: [String: JSONValue] = [:]
            for pair in pairs {
                let key = pair.key.scalarText ?? String(describing: pair.key.toJSON())
                if members[key] == nil { members[key] = pair.value.toJSON() }
            }
            return .object(members)
        }
    }
}
