// WorkflowLoader+Expressions.swift: the checks that need the expression and cron parsers.
//
// Every template-bearing string recorded while reading (TemplateSite) is parsed, and
// its references checked against the names in scope; every `on.schedule` text is
// parsed as cron. Errors point into the scalar: node column + offset (+1 after a
// quote) for one-line scalars; for block scalars and multi-line text the node's own
// position, with the offset in the message.

extension WorkflowLoader {
    /// The parsed schedule of an `on.schedule` text, or nil after reporting its error.
    static func parseSchedule(_ node: YAMLNode, context: WorkflowReadContext) -> CronSchedule? {
        guard case .scalar(let text, let style) = node.content else { return nil }
        do {
            return try CronSchedule.parse(text)
        } catch {
            let (location, note) = position(of: error.offset, in: text, style: style, at: node.location)
            context.reader.report(location, "on.schedule \(quote(text)) is not a valid cron schedule: \(error.message)\(note)")
            return nil
        }
    }

    static func checkExpressions(of definition: WorkflowDefinition, context: WorkflowReadContext) {
        // Filled in when Template lands.
    }

    /// Where character `offset` of a scalar's text is in the file. One-line plain and
    /// quoted scalars: the node's column plus the offset (plus one for the opening
    /// quote). Anything else: the node's position, with " (at offset N)" for the message.
    static func position(of offset: Int, in text: String, style: YAMLScalarStyle,
                         at location: SourceLocation) -> (SourceLocation, String) {
        let oneLine = !text.contains("\n") && (style == .plain || style == .singleQuoted || style == .doubleQuoted)
        guard oneLine else { return (location, " (at offset \(offset) of the text)") }
        var shifted = location
        shifted.column += offset + (style == .plain ? 0 : 1)
        return (shifted, "")
    }
}
