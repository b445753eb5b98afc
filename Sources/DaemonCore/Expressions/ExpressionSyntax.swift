// ExpressionSyntax.swift: the tokens and the syntax tree of the expression language.
//
// The parser builds an ExpressionNode tree; the evaluator walks it. Offsets are
// absolute in the parsed text (Unicode scalars), so evaluation errors of an expression
// inside a template point into the template. Paths are flat (`a.b[0].c` is one access
// node with three accessors) and `&&`/`||` chains are n-ary, so the tree is only as
// deep as the source's nesting, which the parser bounds by ExpressionLimits.maxDepth.

/// Punctuation and operators.
enum ExpressionSymbol: String, Sendable {
    case equal = "==", notEqual = "!=", less = "<", lessOrEqual = "<=", greater = ">"
    case greaterOrEqual = ">=", and = "&&", or = "||", not = "!", minus = "-"
    case openParenthesis = "(", closeParenthesis = ")", openBracket = "[", closeBracket = "]"
    case dot = ".", comma = ","
}

/// One token and where it is: `offset` is its first scalar, `end` one past its last.
struct ExpressionToken: Sendable {
    enum Kind: Sendable, Equatable {
        /// An identifier; keywords (`true`, `false`, `null`, `in`) too: the parser decides.
        case name(String)
        case string(String)
        case integer(Int64)
        case double(Double)
        case symbol(ExpressionSymbol)
        /// `}}` ending an expression inside a template.
        case closeTemplate
        case end
    }

    var kind: Kind
    var offset: Int
    var end: Int
}

/// The binary operators of the comparison level (`in` included).
enum ComparisonOperator: String, Sendable {
    case equal = "==", notEqual = "!=", less = "<", lessOrEqual = "<="
    case greater = ">", greaterOrEqual = ">=", contains = "in"
}

/// `&&` or `||`.
enum LogicalOperator: String, Sendable {
    case and = "&&", or = "||"
}

/// One step of a path after its base: `.name` or `[expression]`.
enum PathAccessor: Sendable, Equatable {
    /// `.name`; `offset` is the name's first character.
    case member(String, offset: Int)
    /// `[index]`; `offset` is the `[`.
    case index(ExpressionNode, offset: Int)
}

/// A node of the syntax tree. `offset` of each case is where the node's text starts.
indirect enum ExpressionNode: Sendable, Equatable {
    case literal(JSONValue, offset: Int)
    /// A root name, looked up in ExpressionContext.roots.
    case root(String, offset: Int)
    /// `base` followed by member and index accesses; `baseText` names a base that is
    /// not a root name in error messages (its source text).
    case access(base: ExpressionNode, baseText: String, accessors: [PathAccessor])
    case not(ExpressionNode, offset: Int)
    /// Two or more operands joined by one operator, evaluated left to right, short-circuit.
    case logical(LogicalOperator, [ExpressionNode])
    case comparison(ComparisonOperator, ExpressionNode, ExpressionNode, operatorOffset: Int)
    case call(ExpressionFunction, [ExpressionNode], offset: Int)

    /// Where the node's text starts.
    var offset: Int {
        switch self {
        case .literal(_, let offset), .root(_, let offset), .not(_, let offset), .call(_, _, let offset):
            return offset
        case .access(let base, _, _): return base.offset
        case .logical(_, let operands): return operands[0].offset
        case .comparison(_, let left, _, _): return left.offset
        }
    }
}

/// The functions of the language; the raw value is the name an expression uses.
enum ExpressionFunction: String, Sendable, CaseIterable {
    case len, contains, startswith, endswith, lower, upper, json
    case `default`, basename, dirname

    /// How many arguments the function takes.
    var arity: Int {
        switch self {
        case .len, .lower, .upper, .json, .basename, .dirname: return 1
        case .contains, .startswith, .endswith, .default: return 2
        }
    }

    /// "basename, contains, default, ..." for error messages.
    static let knownNames = allCases.map(\.rawValue).sorted().joined(separator: ", ")
}

extension ExpressionNode {
    /// Static paths the node reads, in source order: from a root name through literal
    /// member and index accesses, stopping at the first computed index.
    func collectReferences(into paths: inout [[String]]) {
        switch self {
        case .literal: return
        case .root(let name, _): paths.append([name])
        case .access(let base, _, let accessors):
            var path: [String]?
            if case .root(let name, _) = base { path = [name] } else { base.collectReferences(into: &paths) }
            for accessor in accessors {
                switch accessor {
                case .member(let name, _): path?.append(name)
                case .index(.literal(.string(let key), _), _): path?.append(key)
                case .index(.literal(.int(let number), _), _): path?.append(String(number))
                case .index(let index, _):
                    if let finished = path { paths.append(finished) }
                    path = nil
                    index.collectReferences(into: &paths)
                }
            }
            if let path { paths.append(path) }
        case .not(let operand, _): operand.collectReferences(into: &paths)
        case .logical(_, let operands): for operand in operands { operand.collectReferences(into: &paths) }
        case .comparison(_, let left, let right, _):
            left.collectReferences(into: &paths)
            right.collectReferences(into: &paths)
        case .call(_, let arguments, _): for argument in arguments { argument.collectReferences(into: &paths) }
        }
    }
}

/// The article-and-kind name of a value's type for messages: "a string", "null".
func describeKind(_ value: JSONValue) -> String {
    switch value {
    case .null: return "null"
    case .bool: return "a bool"
    case .int, .double: return "a number"
    case .string: return "a string"
    case .array: return "an array"
    case .object: return "an object"
    }
}
