// WorkflowLoader+StepKinds.swift: what each kind of step reads (SPEC section 2).
//
// run/exec (shell, user, group, stdin, outputs), http, set, foreach (do, parallel,
// max_items), sleep, approval, trigger, uses (with) and fail. Each returns the kind or
// nil after reporting; every string that may hold `{{ }}` is recorded for the
// expression check with the scope of the step.

extension WorkflowLoader {
    static let shells = ["sh": "/bin/sh", "bash": "/bin/bash", "python3": "/usr/bin/python3"]
    static let httpKeys = ["method", "url", "headers", "query", "body", "body_file", "timeout", "expect"]
    static let approvalKeys = ["prompt", "fields", "timeout", "on_timeout"]
    static let approvalFieldKeys = ["type", "required", "enum", "pattern"]
    static let triggerStepKeys = ["workflow", "payload", "wait"]

    static func readKind(_ key: String, members: [String: YAMLNode], step: String, context: WorkflowReadContext) -> StepKind? {
        let reader = context.reader
        let node = members[key]!
        switch key {
        case "run", "exec":
            return readRun(key, members: members, context: context).map(StepKind.run)
        case "http":
            return readHTTP(node, context: context).map(StepKind.http)
        case "set":
            guard let pairs = node.pairs, !pairs.isEmpty else {
                reader.report(node, "set must be a non-empty mapping of names to values, found \(node.pairs == nil ? node.kindName : "an empty mapping")")
                return nil
            }
            context.templates(in: node, what: "set")
            return .set(node.toJSON().objectValue ?? [:])
        case "foreach":
            return readForeach(node, members: members, step: step, context: context).map(StepKind.foreach)
        case "sleep":
            return readSleep(node, context: context).map(StepKind.sleep)
        case "approval":
            return readApproval(node, context: context).map(StepKind.approval)
        case "trigger":
            return readTriggerStep(node, context: context).map(StepKind.trigger)
        case "uses":
            return readUses(node, members: members, context: context).map(StepKind.uses)
        default:
            guard reader.string(node, what: "fail") != nil, let message = node.scalarText else { return nil }
            context.template(node, what: "fail")
            return .fail(message: message)
        }
    }

    private static func readRun(_ key: String, members: [String: YAMLNode], context: WorkflowReadContext) -> RunStep? {
        let reader = context.reader
        let action: StepAction
        if key == "run" {
            let node = members["run"]!
            guard let command = reader.string(node, what: "run") else { return nil }
            context.template(node, what: "run")
            var shell = "/bin/sh"
            if let shellNode = members["shell"], let text = reader.string(shellNode, what: "shell") {
                if let known = shells[text] {
                    shell = known
                } else if text.hasPrefix("/") {
                    shell = text
                } else {
                    reader.report(shellNode, "shell must be sh, bash, python3 or an absolute path; found \(quote(text))")
                }
            }
            action = .run(command: command, shell: shell)
        } else {
            let node = members["exec"]!
            guard let arguments = reader.stringList(node, what: "exec") else { return nil }
            guard let first = arguments.first, !first.isEmpty else {
                reader.report(node, "exec needs at least the program to run")
                return nil
            }
            for item in node.items ?? [] { context.template(item, what: "exec") }
            action = .exec(arguments: arguments)
        }
        var run = RunStep(action: action)
        if let node = members["user"] { run.user = reader.string(node, what: "user") }
        if let node = members["group"] { run.group = reader.string(node, what: "group") }
        if let node = members["stdin"], let text = reader.string(node, what: "stdin") {
            run.standardInput = text
            context.template(node, what: "stdin")
        }
        if let node = members["outputs"], let text = reader.string(node, what: "outputs") {
            if let format = OutputFormat(rawValue: text) {
                run.outputs = format
            } else {
                reader.report(node, "outputs must be one of \(OutputFormat.allCases.map(\.rawValue).joined(separator: ", ")); found \(quote(text))")
            }
        }
        return run
    }

    private static func readHTTP(_ node: YAMLNode, context: WorkflowReadContext) -> HTTPStep? {
        let reader = context.reader
        guard let members = reader.mapping(node, what: "http", allowed: httpKeys) else { return nil }
        guard let urlNode = members["url"] else {
            reader.report(node, "http needs \"url\"")
            return nil
        }
        guard let url = reader.string(urlNode, what: "http.url") else { return nil }
        context.template(urlNode, what: "http.url")
        var http = HTTPStep(url: url)
        if !url.contains("{{") && !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
            reader.report(urlNode, "http.url must start with http:// or https://; found \(quote(url))")
        }
        if let value = members["method"], let text = reader.string(value, what: "http.method") {
            if HTTPStep.methods.contains(text.uppercased()) {
                http.method = text.uppercased()
            } else {
                reader.report(value, "http.method must be one of \(HTTPStep.methods.joined(separator: ", ")); found \(quote(text))")
            }
        }
        for (key, what) in [("headers", "http.headers"), ("query", "http.query")] {
            guard let value = members[key], let map = reader.stringMap(value, what: what) else { continue }
            for pair in value.pairs ?? [] { context.template(pair.value, what: what) }
            if key == "headers" { http.headers = map } else { http.query = map }
        }
        if let value = members["body"] {
            http.body = value.toJSON()
            context.templates(in: value, what: "http.body")
        }
        if let value = members["body_file"], let text = reader.string(value, what: "http.body_file") {
            http.bodyFile = text
            context.template(value, what: "http.body_file")
            if members["body"] != nil { reader.report(value, "http takes body or body_file, not both") }
        }
        if let value = members["timeout"] { http.timeout = reader.positiveDuration(value, what: "http.timeout") }
        if let value = members["expect"] {
            http.expect = Array(Set(reader.integerList(value, what: "http.expect", range: 100...599) ?? [])).sorted()
        }
        return http
    }

    private static func readForeach(_ node: YAMLNode, members: [String: YAMLNode], step: String,
                                    context: WorkflowReadContext) -> ForeachStep? {
        let reader = context.reader
        guard let items = reader.string(node, what: "foreach") else { return nil }
        context.template(node, what: "foreach", mode: .list)
        guard let body = members["do"] else {
            reader.report(node, "foreach needs \"do\": the steps to run for each item")
            return nil
        }
        guard let bodyItems = body.items, !bodyItems.isEmpty else {
            reader.report(body, "do must be a non-empty list of steps, found \(body.items == nil ? body.kindName : "an empty list")")
            return nil
        }
        var loop = ForeachStep(items: bareExpressionAsTemplate(items), steps: [])
        if let value = members["parallel"] { loop.parallel = reader.integer(value, what: "parallel", range: 1...1000) ?? 1 }
        if let value = members["max_items"] {
            loop.maxItems = reader.integer(value, what: "max_items", range: 1...1_000_000) ?? loop.maxItems
        }
        let outerVisible = context.visibleSteps
        context.foreachDepth += 1
        loop.steps = readSteps(bodyItems, context: context, idRequired: true, generatedPrefix: step)
        context.foreachDepth -= 1
        context.visibleSteps = outerVisible
        return loop
    }

    private static func readSleep(_ node: YAMLNode, context: WorkflowReadContext) -> SleepStep? {
        let reader = context.reader
        if node.pairs == nil {
            return reader.positiveDuration(node, what: "sleep").map(SleepStep.duration)
        }
        guard let members = reader.mapping(node, what: "sleep", allowed: ["duration", "until"]) else { return nil }
        switch (members["duration"], members["until"]) {
        case (let duration?, nil):
            return reader.positiveDuration(duration, what: "sleep.duration").map(SleepStep.duration)
        case (nil, let until?):
            guard let text = reader.string(until, what: "sleep.until") else { return nil }
            if !text.contains("{{") && WallClock.parseRFC3339(text) == nil {
                reader.report(until, "sleep.until must be an RFC 3339 timestamp such as 2030-01-01T00:00:00Z or an expression")
                return nil
            }
            context.template(until, what: "sleep.until")
            return .until(text)
        default:
            reader.report(node, "sleep takes a duration, or exactly one of \"duration\" and \"until\"")
            return nil
        }
    }

    private static func readApproval(_ node: YAMLNode, context: WorkflowReadContext) -> ApprovalStep? {
        let reader = context.reader
        guard let members = reader.mapping(node, what: "approval", allowed: approvalKeys) else { return nil }
        guard let promptNode = members["prompt"] else {
            reader.report(node, "approval needs \"prompt\": what the approver is asked")
            return nil
        }
        guard let prompt = reader.string(promptNode, what: "approval.prompt") else { return nil }
        context.template(promptNode, what: "approval.prompt")
        var approval = ApprovalStep(prompt: prompt)
        if let value = members["fields"] { approval.fields = readApprovalFields(value, reader: reader) }
        if let value = members["timeout"] { approval.timeout = reader.positiveDuration(value, what: "approval.timeout") }
        if let value = members["on_timeout"], let text = reader.string(value, what: "approval.on_timeout") {
            if let action = ApprovalStep.TimeoutAction(rawValue: text) {
                approval.onTimeout = action
            } else {
                reader.report(value, "approval.on_timeout must be one of approve, reject, fail; found \(quote(text))")
            }
        }
        return approval
    }
}
