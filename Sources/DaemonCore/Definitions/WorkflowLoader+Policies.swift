// WorkflowLoader+Policies.swift: retry, rate_limit, owners, env and vars.
//
// Each reader returns the typed value or nil, and reports what was wrong with the
// node's position. Ranges: max_attempts 0...10000 (0 = unlimited), initial > 0,
// backoff 1.0...100.0, max_interval ≥ initial, non_retryable 0...999 (exit codes and
// HTTP statuses), rate_limit 1...1000000 per s, min or h.

extension WorkflowLoader {
    static let retryKeys = ["max_attempts", "initial", "backoff", "max_interval", "jitter", "non_retryable"]

    static func readRetry(_ node: YAMLNode, what: String, reader: NodeReader) -> RetryPolicy? {
        guard let members = reader.mapping(node, what: what, allowed: retryKeys) else { return nil }
        var policy = RetryPolicy()
        if let value = members["max_attempts"] {
            policy.maxAttempts = reader.integer(value, what: "\(what).max_attempts", range: 0...10_000) ?? 1
        }
        if let value = members["initial"], let initial = reader.positiveDuration(value, what: "\(what).initial") {
            policy.initialInterval = initial
        }
        policy.maximumInterval = policy.initialInterval * 100
        if let value = members["backoff"], let backoff = reader.number(value, what: "\(what).backoff", minimum: 1, maximum: 100) {
            policy.backoffCoefficient = backoff
        }
        if let value = members["max_interval"], let maximum = reader.positiveDuration(value, what: "\(what).max_interval") {
            if maximum < policy.initialInterval {
                reader.report(value, "\(what).max_interval must not be shorter than \(what).initial (\(DurationText.format(policy.initialInterval)))")
            } else {
                policy.maximumInterval = maximum
            }
        }
        if let value = members["jitter"] { policy.jitter = reader.boolean(value, what: "\(what).jitter") ?? false }
        if let value = members["non_retryable"] {
            policy.nonRetryable = Array(Set(reader.integerList(value, what: "\(what).non_retryable", range: 0...999) ?? [])).sorted()
        }
        return policy
    }

    /// `N/s`, `N/min` or `N/h`.
    static func readRateLimit(_ node: YAMLNode, reader: NodeReader) -> RateLimit? {
        let expected = "rate_limit must look like 30/min (N/s, N/min or N/h)"
        guard let text = node.scalarText, case .string? = node.resolvedScalar else {
            reader.report(node, "\(expected), found \(node.kindName)")
            return nil
        }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        let windows: [String: Duration] = ["s": .seconds(1), "min": .seconds(60), "h": .seconds(3600)]
        guard parts.count == 2, let window = windows[String(parts[1])],
              parts[0].allSatisfy({ $0.isASCII && $0.isNumber }), parts[0].count <= 7, let count = Int(parts[0])
        else {
            reader.report(node, "\(expected); found \(quote(text))")
            return nil
        }
        guard (1...1_000_000).contains(count) else {
            reader.report(node, "rate_limit must allow between 1 and 1000000 runs per window, found \(count)")
            return nil
        }
        return RateLimit(count: count, window: window, unit: String(parts[1]))
    }

    /// Unix group names: `[a-z_][a-z0-9_-]*$?`, at most 32 characters.
    static func readOwners(_ node: YAMLNode, reader: NodeReader) -> [String] {
        var owners: [String] = []
        for (text, item) in reader.stringOrList(node, what: "owners") ?? [] {
            if isValidGroupName(text) {
                if !owners.contains(text) { owners.append(text) }
            } else {
                reader.report(item, "owners: \(quote(text)) is not a valid unix group name")
            }
        }
        return owners.sorted()
    }

    static func isValidGroupName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...32).contains(bytes.count) else { return false }
        func allowed(_ byte: UInt8, index: Int) -> Bool {
            if byte == 0x24 { return index == bytes.count - 1 && index > 0 }  // trailing $ (Samba machine accounts)
            let letter = (byte >= 0x61 && byte <= 0x7a) || byte == 0x5f
            return letter || (index > 0 && ((byte >= 0x30 && byte <= 0x39) || byte == 0x2d))
        }
        return bytes.enumerated().allSatisfy { allowed($0.element, index: $0.offset) }
    }

    /// An `env` mapping: names `[A-Za-z_][A-Za-z0-9_]*`, scalar values (templates).
    static func readEnvironment(_ node: YAMLNode, what: String, context: WorkflowReadContext) -> [String: String] {
        let reader = context.reader
        guard let pairs = node.pairs else {
            reader.report(node, "\(what) must be a mapping, found \(node.kindName)")
            return [:]
        }
        var environment: [String: String] = [:]
        for pair in pairs {
            guard let key = pair.key.scalarText else { continue }
            if !isValidVariableName(key) {
                reader.report(pair.key, "\(what): \(quote(key)) is not a valid environment variable name ([A-Za-z_][A-Za-z0-9_]*)")
                continue
            }
            guard case .scalar(let value, _) = pair.value.content, pair.value.resolvedScalar != .null else {
                reader.report(pair.value, "\(what).\(key) must be a string, found \(pair.value.kindName)")
                continue
            }
            environment[key] = value
            context.template(pair.value, what: "\(what).\(key)")
        }
        return environment
    }

    static func isValidVariableName(_ name: String) -> Bool {
        guard let first = name.utf8.first, !(first >= 0x30 && first <= 0x39) else { return false }
        return name.utf8.allSatisfy { ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5f }
    }

    /// `vars`: a mapping of static values (not templates), names like env names.
    static func readVars(_ node: YAMLNode, reader: NodeReader) -> [String: JSONValue] {
        guard let pairs = node.pairs else {
            reader.report(node, "vars must be a mapping, found \(node.kindName)")
            return [:]
        }
        var vars: [String: JSONValue] = [:]
        for pair in pairs {
            guard let key = pair.key.scalarText else { continue }
            guard isValidVariableName(key) else {
                reader.report(pair.key, "vars: \(quote(key)) is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*)")
                continue
            }
            vars[key] = pair.value.toJSON()
        }
        return vars
    }
}
