// WorkflowLoader+Expressions.swift: the checks that need the expression and cron parsers.
//
// Every template-bearing string recorded while reading (TemplateSite) is parsed, and
// its references checked against the names in scope; every `on.schedule` text is
// parsed as cron. Errors point into the scalar: node column + offset (+1 after a
// quote) for one-line scalars; for block scalars and multi-line text the node's own
// position, with the offset in the message. Reference errors point at the reference
// (`steps.x`) when it is spelled that way in a one-line scalar.

import Foundation

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

    static let expressionRoots = ["trigger", "run", "steps", "env", "vars", "credentials", "item", "index"]

    /// Parses every recorded template and checks what its expressions reference.
    static func checkExpressions(of definition: WorkflowDefinition, context: WorkflowReadContext) {
        let allSteps = Set(context.stepIDLocations.keys)
        for site in context.templateSites {
            let references: [[String]]
            do {
                if site.mode != .template && !site.text.contains("{{") {
                    references = try Expression.parse(site.text).references
                } else {
                    references = try Template.parse(site.text).references
                }
            } catch {
                let (location, note) = position(of: error.offset, in: site.text, style: site.style, at: site.location)
                context.reader.report(location, "\(site.what): \(error.message)\(note)")
                continue
            }
            for path in references {
                guard let problem = referenceProblem(path, site: site, allSteps: allSteps) else { continue }
                var location = site.location
                if let offset = scalarOffset(of: path.prefix(2).joined(separator: "."), in: site.text) {
                    location = position(of: offset, in: site.text, style: site.style, at: site.location).0
                }
                context.reader.report(location, "\(site.what): \(problem)")
            }
        }
    }

    /// What is wrong with one static path of an expression, or nil.
    private static func referenceProblem(_ path: [String], site: TemplateSite, allSteps: Set<String>) -> String? {
        guard let root = path.first else { return nil }
        guard expressionRoots.contains(root) else {
            return "unknown name '\(root)'; expressions start from trigger, run, steps, env, vars, credentials (item and index inside foreach)"
        }
        if (root == "item" || root == "index") && !site.insideForeach {
            return "'\(root)' is only defined in the do: steps of a foreach"
        }
        guard root == "steps" else { return nil }
        guard path.count >= 2 else { return "steps needs a step id, as in steps.<id>.output" }
        let step = path[1]
        if site.visibleSteps.contains(step) { return nil }
        return allSteps.contains(step) ? "steps.\(step) is not an earlier step" : "unknown step '\(step)'"
    }

    /// The offset in Unicode scalars of the first occurrence of `needle` in `text`.
    private static func scalarOffset(of needle: String, in text: String) -> Int? {
        guard let range = text.range(of: needle) else { return nil }
        return text.unicodeScalars.distance(from: text.unicodeScalars.startIndex, to: range.lowerBound)
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
