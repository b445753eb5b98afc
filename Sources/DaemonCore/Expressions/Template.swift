// Template.swift: a string of a workflow that may hold `{{ expression }}` parts.
//
// Parsing splits the text into literal text and expressions; every error offset
// counts Unicode scalars from the start of the whole template, so the loader can turn
// it into a column. An unclosed `{{` is an error at that `{{`; a `}}` with no `{{` is
// literal text; a `}}` inside a string literal does not close the expression. A
// template that is exactly one `{{ expr }}` keeps the value's type; otherwise the
// parts are concatenated, bounded by ExpressionLimits.maxResultBytes.

/// A string that may hold `{{ ... }}` parts.
public struct Template: Sendable, Equatable {
    /// One piece of the template and where it starts (its `{{` for an expression).
    enum Part: Sendable, Equatable {
        case text(String, offset: Int)
        case expression(Expression, offset: Int)
    }

    /// The template's source text.
    public let text: String
    let parts: [Part]

    /// Parses `text`; error offsets count Unicode scalars from the start of `text`.
    public static func parse(_ text: String) throws(ExpressionError) -> Template {
        let scalars = Array(text.unicodeScalars)
        var parts: [Part] = []
        var literal = String.UnicodeScalarView()
        var literalStart = 0
        var position = 0
        while position < scalars.count {
            guard scalars[position] == "{", position + 1 < scalars.count, scalars[position + 1] == "{" else {
                literal.append(scalars[position])
                position += 1
                continue
            }
            if !literal.isEmpty {
                parts.append(.text(String(literal), offset: literalStart))
                literal = String.UnicodeScalarView()
            }
            let (expression, end) = try parseExpression(in: scalars, openedAt: position)
            parts.append(.expression(expression, offset: position))
            position = end
            literalStart = end
        }
        if !literal.isEmpty { parts.append(.text(String(literal), offset: literalStart)) }
        return Template(text: text, parts: parts)
    }

    /// The expression after the `{{` at `open`, and the offset just past its `}}`.
    private static func parseExpression(in scalars: [Unicode.Scalar], openedAt open: Int)
        throws(ExpressionError) -> (Expression, end: Int)
    {
        do {
            var parser = try ExpressionParser(scalars: scalars, start: open + 2, inTemplate: true)
            let (node, terminator) = try parser.parseWhole()
            var inner = scalars[(open + 2)..<terminator.offset]
            while let first = inner.first, [" ", "\t", "\n", "\r"].contains(first) { inner.removeFirst() }
            while let last = inner.last, [" ", "\t", "\n", "\r"].contains(last) { inner.removeLast() }
            return (Expression(text: String(String.UnicodeScalarView(inner)), root: node), terminator.end)
        } catch where error.offset >= scalars.count {
            // The text ran out before the expression was complete: the `}}` is missing.
            throw ExpressionError(offset: open, message: "unclosed '{{': no '}}' after it")
        }
    }

    /// True when the template has no `{{ }}` at all.
    public var isLiteral: Bool {
        !parts.contains { if case .expression = $0 { return true } else { return false } }
    }

    /// The expressions of the template, in order.
    public var expressions: [Expression] {
        parts.compactMap { if case .expression(let expression, _) = $0 { return expression } else { return nil } }
    }

    /// The static paths all expressions of the template read, in order, without repeats.
    public var references: [[String]] {
        Expression.withoutRepeats(expressions.flatMap(\.references))
    }

    /// The template's value. A text that is exactly one `{{ expr }}` (whitespace inside
    /// the braces allowed) keeps the value's type; otherwise the parts are concatenated:
    /// strings as they are, null as "", numbers and bools as JSON, arrays and objects as
    /// compact JSON.
    public func evaluate(in context: ExpressionContext) throws(ExpressionError) -> JSONValue {
        if parts.count == 1, case .expression(let expression, _) = parts[0] {
            return try expression.evaluate(in: context)
        }
        return .string(try interpolate(in: context))
    }

    /// The template's value as text: like `evaluate`, with a single expression's value
    /// rendered the way interpolation renders it.
    public func evaluateToString(in context: ExpressionContext) throws(ExpressionError) -> String {
        if parts.count == 1, case .expression(let expression, _) = parts[0] {
            return Self.render(try expression.evaluate(in: context))
        }
        return try interpolate(in: context)
    }

    private func interpolate(in context: ExpressionContext) throws(ExpressionError) -> String {
        var result = ""
        var size = 0
        for part in parts {
            let piece: String
            let offset: Int
            switch part {
            case .text(let text, let start):
                (piece, offset) = (text, start)
            case .expression(let expression, let start):
                (piece, offset) = (Self.render(try expression.evaluate(in: context)), start)
            }
            size += piece.utf8.count
            if size > ExpressionLimits.maxResultBytes {
                throw ExpressionError(
                    offset: offset,
                    message: "the text grows over the limit of \(ExpressionLimits.maxResultBytes) bytes here")
            }
            result += piece
        }
        return result
    }

    /// How a value reads inside a text: strings as they are, null as "", the rest as JSON.
    static func render(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): return text
        case .null: return ""
        default: return value.serialized()
        }
    }
}
