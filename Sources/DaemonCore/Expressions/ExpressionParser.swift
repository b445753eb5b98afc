// ExpressionParser.swift: recursive-descent parser from tokens to an ExpressionNode.
//
// Grammar, loosest binding first:
//   or         = and ("||" and)*
//   and        = comparison ("&&" comparison)*
//   comparison = unary (("==" | "!=" | "<" | "<=" | ">" | ">=" | "in") unary)?
//   unary      = "!" unary | postfix
//   postfix    = primary ("." name | "[" or "]")*
//   primary    = literal | "-" number | name | function "(" arguments ")" | "(" or ")"
// Comparisons do not chain (`a < b < c` is an error asking for parentheses). Functions
// and their arity are checked here, so a typo fails when the workflow loads. Nesting
// deeper than ExpressionLimits.maxDepth is an error at the token that opens the level,
// which also bounds the recursion of the parser and of the evaluator.

struct ExpressionParser {
    private var lexer: ExpressionLexer
    private let scalars: [Unicode.Scalar]
    private var current: ExpressionToken
    private var previous: ExpressionToken?
    private var depth = 0
    private let inTemplate: Bool

    /// Starts parsing `scalars` at `start`; reads the first token.
    init(scalars: [Unicode.Scalar], start: Int, inTemplate: Bool) throws(ExpressionError) {
        self.scalars = scalars
        self.inTemplate = inTemplate
        lexer = ExpressionLexer(scalars: scalars, start: start, inTemplate: inTemplate)
        current = try lexer.next()
    }

    /// Parses one whole expression: the text must end after it (standalone), or a `}}`
    /// must follow it (template). Returns the node and the token that ended it.
    mutating func parseWhole() throws(ExpressionError) -> (node: ExpressionNode, terminator: ExpressionToken) {
        let node = try parseOr()
        let expected: ExpressionToken.Kind = inTemplate ? .closeTemplate : .end
        guard current.kind == expected else {
            let ending = inTemplate ? "'}}'" : "the end of the expression"
            throw failure("expected an operator or \(ending), found \(describe(current))")
        }
        return (node, current)
    }

    // MARK: - Levels

    private mutating func parseOr() throws(ExpressionError) -> ExpressionNode {
        var operands = [try parseAnd()]
        while current.kind == .symbol(.or) {
            try advance()
            operands.append(try parseAnd())
        }
        return operands.count == 1 ? operands[0] : .logical(.or, operands)
    }

    private mutating func parseAnd() throws(ExpressionError) -> ExpressionNode {
        var operands = [try parseComparison()]
        while current.kind == .symbol(.and) {
            try advance()
            operands.append(try parseComparison())
        }
        return operands.count == 1 ? operands[0] : .logical(.and, operands)
    }

    private mutating func parseComparison() throws(ExpressionError) -> ExpressionNode {
        let left = try parseUnary()
        guard let comparison = comparisonOperator(current) else { return left }
        let operatorOffset = current.offset
        try advance()
        let right = try parseUnary()
        if comparisonOperator(current) != nil {
            throw failure("comparisons cannot be chained; add parentheses")
        }
        return .comparison(comparison, left, right, operatorOffset: operatorOffset)
    }

    private func comparisonOperator(_ token: ExpressionToken) -> ComparisonOperator? {
        switch token.kind {
        case .symbol(let symbol): return ComparisonOperator(rawValue: symbol.rawValue)
        case .name("in"): return .contains
        default: return nil
        }
    }

    private mutating func parseUnary() throws(ExpressionError) -> ExpressionNode {
        guard current.kind == .symbol(.not) else { return try parsePostfix() }
        let offset = current.offset
        try enterNesting()
        try advance()
        let operand = try parseUnary()
        depth -= 1
        return .not(operand, offset: offset)
    }

    private mutating func parsePostfix() throws(ExpressionError) -> ExpressionNode {
        let base = try parsePrimary()
        let baseEnd = previous?.end ?? current.offset
        var accessors: [PathAccessor] = []
        while true {
            if current.kind == .symbol(.dot) {
                try advance()
                guard case .name(let name) = current.kind else {
                    throw failure("expected a field name after '.', found \(describe(current))")
                }
                accessors.append(.member(name, offset: current.offset))
                try advance()
            } else if current.kind == .symbol(.openBracket) {
                let offset = current.offset
                try enterNesting()
                try advance()
                let index = try parseOr()
                try expectClosing(.closeBracket, openedAt: offset)
                depth -= 1
                accessors.append(.index(index, offset: offset))
            } else {
                break
            }
        }
        if accessors.isEmpty { return base }
        let baseText = String(String.UnicodeScalarView(scalars[base.offset..<baseEnd]))
        return .access(base: base, baseText: baseText, accessors: accessors)
    }

    private mutating func parsePrimary() throws(ExpressionError) -> ExpressionNode {
        let token = current
        switch token.kind {
        case .string(let text):
            try advance()
            return .literal(.string(text), offset: token.offset)
        case .integer(let number):
            try advance()
            return .literal(.int(number), offset: token.offset)
        case .double(let number):
            try advance()
            return .literal(.double(number), offset: token.offset)
        case .symbol(.minus):
            try advance()
            switch current.kind {
            case .integer(let number) where number != .min:
                try advance()
                return .literal(.int(-number), offset: token.offset)
            case .double(let number):
                try advance()
                return .literal(.double(-number), offset: token.offset)
            default:
                throw failure("expected a number after '-', found \(describe(current))")
            }
        case .symbol(.openParenthesis):
            try enterNesting()
            try advance()
            let inner = try parseOr()
            try expectClosing(.closeParenthesis, openedAt: token.offset)
            depth -= 1
            return inner
        case .name("true"), .name("false"), .name("null"):
            try advance()
            let value: JSONValue = token.kind == .name("null") ? .null : .bool(token.kind == .name("true"))
            return .literal(value, offset: token.offset)
        case .name(let name) where name != "in":
            try advance()
            if current.kind == .symbol(.openParenthesis) { return try parseCall(name, at: token) }
            return .root(name, offset: token.offset)
        default:
            throw expectedValue()
        }
    }

    /// `name(arguments)`, the name already read and `(` current.
    private mutating func parseCall(_ name: String, at nameToken: ExpressionToken) throws(ExpressionError) -> ExpressionNode {
        guard let function = ExpressionFunction(rawValue: name) else {
            throw ExpressionError(
                offset: nameToken.offset,
                message: "unknown function '\(name)'; known: \(ExpressionFunction.knownNames)")
        }
        try enterNesting()
        try advance()
        var arguments: [ExpressionNode] = []
        if current.kind != .symbol(.closeParenthesis) {
            arguments.append(try parseOr())
            while current.kind == .symbol(.comma) {
                try advance()
                arguments.append(try parseOr())
            }
        }
        guard current.kind == .symbol(.closeParenthesis) else {
            throw failure("expected ',' or ')' in the arguments of \(name)(), found \(describe(current))")
        }
        try advance()
        depth -= 1
        guard arguments.count == function.arity else {
            let plural = function.arity == 1 ? "argument" : "arguments"
            throw ExpressionError(
                offset: nameToken.offset,
                message: "\(name)() takes \(function.arity) \(plural), got \(arguments.count)")
        }
        return .call(function, arguments, offset: nameToken.offset)
    }

    // MARK: - Helpers

    private mutating func advance() throws(ExpressionError) {
        previous = current
        current = try lexer.next()
    }

    private mutating func enterNesting() throws(ExpressionError) {
        depth += 1
        if depth > ExpressionLimits.maxDepth {
            throw failure("expression is nested deeper than \(ExpressionLimits.maxDepth) levels")
        }
    }

    private mutating func expectClosing(_ symbol: ExpressionSymbol, openedAt offset: Int) throws(ExpressionError) {
        guard current.kind == .symbol(symbol) else {
            let opening = symbol == .closeParenthesis ? "(" : "["
            throw failure(
                "expected '\(symbol.rawValue)' to close the '\(opening)' at offset \(offset), found \(describe(current))")
        }
        try advance()
    }

    /// The error for a missing operand, at the current token.
    private func expectedValue() -> ExpressionError {
        if let previous {
            switch previous.kind {
            case .symbol(let symbol) where symbol != .closeParenthesis && symbol != .closeBracket:
                return failure("expected a value after '\(symbol.rawValue)', found \(describe(current))")
            case .name("in"):
                return failure("expected a value after 'in', found \(describe(current))")
            default: break
            }
        } else if current.kind == .closeTemplate || current.kind == .end {
            return failure("expected an expression, found \(describe(current))")
        }
        return failure("expected a value, found \(describe(current))")
    }

    private func failure(_ message: String) -> ExpressionError {
        ExpressionError(offset: current.offset, message: message)
    }

    /// How a token reads in a message: "'=='", "'name'", "a string", "the end of the expression".
    private func describe(_ token: ExpressionToken) -> String {
        switch token.kind {
        case .end: return "the end of the expression"
        case .closeTemplate: return "'}}'"
        case .string: return "a string"
        default: return "'\(String(String.UnicodeScalarView(scalars[token.offset..<token.end])))'"
        }
    }
}
