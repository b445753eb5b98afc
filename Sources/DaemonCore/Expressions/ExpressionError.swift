// ExpressionError.swift: the error, the limits and the data context of the expression
// language (SPEC section 2, "Expressions").
//
// Every parse and evaluation failure is an ExpressionError: a message and the 0-based
// offset, in Unicode scalars (code points, as libyaml counts columns), into the text
// that was parsed: the expression alone for Expression.parse, the whole string for
// Template.parse. Nothing here traps on user input.

/// An error in an expression: `offset` is the 0-based character offset in the text that
/// was parsed (the whole template string for `Template.parse`, so a caller can turn it
/// into a column). Characters are Unicode scalars (code points).
public struct ExpressionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Where the problem is: 0-based, in Unicode scalars from the start of the parsed text.
    public var offset: Int
    /// What is wrong, e.g. "no field 'status' in steps.upload.output".
    public var message: String

    public init(offset: Int, message: String) {
        self.offset = offset
        self.message = message
    }

    public var description: String { "offset \(offset): \(message)" }
}

/// The run's data visible to expressions: root names to values, e.g. "trigger", "run",
/// "steps", "env", "vars", "credentials", "item", "index".
public struct ExpressionContext: Sendable {
    /// The values of the root names an expression may start a path with.
    public var roots: [String: JSONValue]

    public init(roots: [String: JSONValue]) {
        self.roots = roots
    }
}

/// Bounds that keep parsing and evaluation cheap whatever a workflow author writes.
public enum ExpressionLimits {
    /// Characters (Unicode scalars) of one expression: the text inside `{{ }}` or an `if:`.
    public static let maxLength = 4096
    /// Nesting of parentheses, brackets, function calls and `!`.
    public static let maxDepth = 64
    /// UTF-8 bytes of a string result, of a string a function builds, or of an interpolation.
    public static let maxResultBytes = 1 << 20
}

/// An evaluation failure inside the evaluator. `isMissingValue` marks the failures
/// `default()` swallows: an unknown root name, a missing field, an index out of range.
struct EvaluationFailure: Error {
    var error: ExpressionError
    var isMissingValue: Bool

    static func missing(_ message: String, at offset: Int) -> EvaluationFailure {
        EvaluationFailure(error: ExpressionError(offset: offset, message: message), isMissingValue: true)
    }

    static func invalid(_ message: String, at offset: Int) -> EvaluationFailure {
        EvaluationFailure(error: ExpressionError(offset: offset, message: message), isMissingValue: false)
    }
}
