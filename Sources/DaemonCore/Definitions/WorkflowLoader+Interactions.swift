// WorkflowLoader+Interactions.swift: approval fields, trigger steps and uses steps.
//
// Approval fields: names `[a-z_][a-z0-9_]{0,63}`, a type (string, boolean, number,
// integer), `required`, `enum` values of the field's type, a `pattern` (string fields
// only) that must compile as a regular expression. `trigger:` takes a workflow name or
// `{ workflow, payload, wait }`; `uses:` takes `connector/action` and `with:` inputs.

import Foundation

extension WorkflowLoader {
    static func readApprovalFields(_ node: YAMLNode, reader: NodeReader) -> [ApprovalField] {
        guard let pairs = node.pairs else {
            reader.report(node, "approval.fields must be a mapping of field names to { type, required, enum, pattern }, found \(node.kindName)")
            return []
        }
        var fields: [ApprovalField] = []
        for pair in pairs {
            guard let name = pair.key.scalarText else { continue }
            if !isValidFieldName(name) {
                reader.report(pair.key, "approval field name \(quote(name)) is invalid; field names match [a-z_][a-z0-9_]{0,63}")
            }
            if pair.value.resolvedScalar == .null {
                fields.append(ApprovalField(name: name))
                continue
            }
            let what = "approval field \(quote(name))"
            guard let members = reader.mapping(pair.value, what: what, allowed: approvalFieldKeys) else { continue }
            var field = ApprovalField(name: name)
            if let value = members["type"], let text = reader.string(value, what: "\(what) type") {
                if let type = ApprovalField.FieldType(rawValue: text) {
                    field.type = type
                } else {
                    reader.report(value, "\(what) type must be one of string, boolean, number, integer; found \(quote(text))")
                }
            }
            if let value = members["required"] { field.required = reader.boolean(value, what: "\(what) required") ?? false }
            if let value = members["pattern"], let text = reader.string(value, what: "\(what) pattern") {
                if field.type != .string {
                    reader.report(value, "\(what) pattern applies to string fields only")
                } else if (try? NSRegularExpression(pattern: text)) == nil {
                    reader.report(value, "\(what) pattern is not a valid regular expression")
                } else {
                    field.pattern = text
                }
            }
            if let value = members["enum"] {
                if let items = value.items, !items.isEmpty {
                    var allowed: [JSONValue] = []
                    for item in items {
                        let json = item.toJSON()
                        if fits(json, type: field.type) {
                            allowed.append(json)
                        } else {
                            reader.report(item, "\(what) enum value \(json.serialized()) is not \(field.type == .integer ? "an" : "a") \(field.type.rawValue)")
                        }
                    }
                    field.allowedValues = allowed
                } else {
                    reader.report(value, "\(what) enum must be a non-empty list, found \(value.items == nil ? value.kindName : "an empty list")")
                }
            }
            fields.append(field)
        }
        return fields.sorted { $0.name < $1.name }
    }

    static func isValidFieldName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...64).contains(bytes.count) else { return false }
        return bytes.enumerated().allSatisfy { index, byte in
            (byte >= 0x61 && byte <= 0x7a) || byte == 0x5f || (index > 0 && byte >= 0x30 && byte <= 0x39)
        }
    }

    private static func fits(_ value: JSONValue, type: ApprovalField.FieldType) -> Bool {
        switch (type, value) {
        case (.string, .string), (.boolean, .bool), (.integer, .int), (.number, .int), (.number, .double): true
        default: false
        }
    }

    static func readTriggerStep(_ node: YAMLNode, context: WorkflowReadContext) -> TriggerStep? {
        let reader = context.reader
        var workflowNode = node
        var members: [String: YAMLNode] = [:]
        if node.pairs != nil {
            guard let read = reader.mapping(node, what: "trigger", allowed: triggerStepKeys) else { return nil }
            members = read
            guard let name = members["workflow"] else {
                reader.report(node, "trigger needs \"workflow\": the workflow to start")
                return nil
            }
            workflowNode = name
        }
        guard let workflow = reader.string(workflowNode, what: "trigger.workflow") else { return nil }
        if !isValidName(workflow) {
            reader.report(workflowNode, "trigger.workflow \(quote(workflow)) is invalid; names match [a-z0-9][a-z0-9_-]{0,63}")
        }
        var trigger = TriggerStep(workflow: workflow)
        if let payload = members["payload"] {
            trigger.payload = payload.toJSON()
            context.templates(in: payload, what: "trigger.payload")
        }
        if let wait = members["wait"] { trigger.wait = reader.boolean(wait, what: "trigger.wait") ?? false }
        return trigger
    }

    static func readUses(_ node: YAMLNode, members: [String: YAMLNode], context: WorkflowReadContext) -> UsesStep? {
        let reader = context.reader
        guard let text = reader.string(node, what: "uses") else { return nil }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2, isValidName(parts[0]), isValidName(parts[1]) else {
            reader.report(node, "uses must be connector/action, e.g. slack/post-message; found \(quote(text))")
            return nil
        }
        var uses = UsesStep(connector: parts[0], action: parts[1])
        if let with = members["with"] {
            guard with.pairs != nil else {
                reader.report(with, "with must be a mapping of input names to values, found \(with.kindName)")
                return nil
            }
            uses.inputs = with.toJSON().objectValue ?? [:]
            context.templates(in: with, what: "with")
        }
        context.connectors?.check(connector: uses.connector, action: uses.action, usesNode: node, withNode: members["with"], reader: reader)
        return uses
    }
}
