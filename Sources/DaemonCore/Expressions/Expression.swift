// Expression.swift: one expression of the workflow language: what is inside `{{ }}`,
// or an `if:` condition.
//
// Parse once when the workflow loads (errors carry the offset of the offending
// character), evaluate per run against an ExpressionContext. Evaluation is pure and
// bounded: no loops, no code execution, no file access; a string result over
// ExpressionLimits.maxResultBytes is an error. Failures are ExpressionError values.

/// One expression: what is inside `{{ }}`, or an `if:` condition.
public struct Expression: Sendable, Equatable {
    /// The expression's source text (for a template part, the text between the braces).
    public let text: String
    let root: ExpressionNode

    init(text: String, root: ExpressionNode) {
        self.text = text
        self.root = root
    }

    /// Parses `text`; error offsets count Unicode scalars from the start of `text`.
    public static func parse(_ text: String) throws(ExpressionError) -> Expression {
        let scalars = Array(text.unicodeScalars)
        if scalars.count > ExpressionLimits.maxLength {
            throw ExpressionError(
                offset: 0, message: "expression is longer than \(ExpressionLimits.maxLength) characters")
        }
        var parser = try ExpressionParser(scalars: scalars, start: 0, inTemplate: false)
        return Expression(text: text, root: try parser.parseWhole().node)
    }

    /// Static paths the expression reads, in source order without repeats, e.g.
    /// `[["steps","upload","output","status"], ["trigger","name"]]`: each from its root
    /// name through literal member and index accesses, stopping at the first computed
    /// index. Lets the loader check that `steps.X` names an earlier step and that roots exist.
    public var references: [[String]] {
        var paths: [[String]] = []
        root.collectReferences(into: &paths)
        return Self.withoutRepeats(paths)
    }

    /// The value of the expression with the run's data in `context`.
    public func evaluate(in context: ExpressionContext) throws(ExpressionError) -> JSONValue {
        do throws(EvaluationFailure) {
            let value = try ExpressionEvaluator(roots: context.roots).evaluate(root)
            if case .string(let result) = value {
                let size = result.utf8.count
                if size > ExpressionLimits.maxResultBytes {
                    throw EvaluationFailure.invalid(
                        "the result is \(size) bytes, over the limit of \(ExpressionLimits.maxResultBytes)",
                        at: root.offset)
                }
            }
            return value
        } catch {
            throw error.error
        }
    }

    static func withoutRepeats(_ paths: [[String]]) -> [[String]] {
        var seen = Set<[String]>()
        return paths.filter { seen.insert($0).inserted }
    }
}
