// ValidFixtureTests.swift: the valid fixtures load into the model a user would expect,
// and the version hash follows meaning, not formatting.

import XCTest
@testable import DaemonCore

final class ValidFixtureTests: XCTestCase {
    let fixtures = FixtureCorpusTests.fixtures + "/valid/"

    private func load(_ name: String) throws -> WorkflowDefinition {
        try WorkflowLoader.load(path: fixtures + name + ".yaml")
    }

    func testSpecExampleLoadsEveryWorkflowKey() throws {
        let definition = try load("spec-example")
        XCTAssertEqual(definition.name, "nightly-backup")
        XCTAssertEqual(definition.spoolFormat, .json)
        XCTAssertEqual(definition.triggers.schedules.map(\.text), ["30 3 * * *"])
        XCTAssertEqual(definition.triggers.schedules.first?.catchUp, false)
        XCTAssertTrue(definition.manualTrigger)
        XCTAssertEqual(definition.triggers.workflow, WorkflowTrigger(name: "ingest", statuses: [.failed]))
        XCTAssertEqual(definition.concurrency, 2)
        XCTAssertEqual(definition.rateLimit, RateLimit(count: 30, window: .seconds(60), unit: "min"))
        XCTAssertEqual(definition.timeout, .seconds(7200))
        XCTAssertEqual(definition.owners, ["backup-team"])
        XCTAssertEqual(definition.environment, ["TARGET": "/srv/backups"])
        var retry = RetryPolicy()
        retry.maxAttempts = 3
        retry.jitter = true
        XCTAssertEqual(definition.retry, retry)
        XCTAssertEqual(definition.steps.map(\.id), ["compress", "upload", "ask", "notify"])
        XCTAssertEqual(definition.steps[0].timeout, .seconds(600))
        XCTAssertTrue(definition.steps[0].idempotent)
        guard case .http(let http) = definition.steps[1].kind else { return XCTFail("upload is not http") }
        XCTAssertEqual(http.method, "PUT")
        XCTAssertEqual(http.headers["Authorization"], "Bearer {{ credentials.backup_token }}")
        XCTAssertEqual(http.bodyFile, "$TARGET/{{ trigger.name }}.gz")
        XCTAssertEqual(definition.steps[1].retry?.maxAttempts, 5)
        XCTAssertEqual(definition.steps[1].retry?.nonRetryable, [400, 401, 403])
        XCTAssertEqual(definition.steps[2].condition, "{{ steps.upload.output.status != 200 }}")
        guard case .approval(let approval) = definition.steps[2].kind else { return XCTFail("ask is not approval") }
        XCTAssertEqual(approval.fields.map(\.name), ["keep", "note"])
        XCTAssertEqual(approval.fields[0].type, .boolean)
        XCTAssertTrue(approval.fields[0].required)
        XCTAssertEqual(approval.timeout, .seconds(4 * 3600))
        XCTAssertEqual(approval.onTimeout, .reject)
        guard case .uses(let uses) = definition.steps[3].kind else { return XCTFail("notify is not uses") }
        XCTAssertEqual(uses.connector, "slack")
        XCTAssertEqual(uses.action, "post-message")
        XCTAssertEqual(uses.inputs["channel"], "#ops")
        XCTAssertTrue(definition.steps[3].continueOnError)
        XCTAssertEqual(definition.onFailure.map(\.id), ["on_failure-1"], "a handler step without id gets one")
    }

    func testScheduleForms() throws {
        let definition = try load("schedules")
        XCTAssertEqual(definition.triggers.schedules.map(\.text), ["30 3 * * *", "TZ=Europe/Paris 0 9 * * MON-FRI", "@hourly"])
        XCTAssertEqual(definition.triggers.schedules.map(\.catchUp), [false, true, false])
        XCTAssertEqual(definition.triggers.schedules[1].schedule.timeZoneIdentifier, "Europe/Paris")
        XCTAssertNil(definition.triggers.spool)
        let single = try load("schedule-single-mapping")
        XCTAssertEqual(single.triggers.schedules.map(\.catchUp), [true])
        XCTAssertEqual(try load("workflow-trigger-default-status").triggers.workflow?.statuses, [.succeeded, .failed, .cancelled])
        XCTAssertEqual(try load("workflow-trigger").triggers.workflow?.statuses, [.succeeded])
        XCTAssertEqual(try load("spool-shorthand").spoolFormat, .yaml)
        XCTAssertFalse(try load("spool-shorthand").manualTrigger)
        XCTAssertEqual(try load("spool-bare").spoolFormat, .json)
    }

    func testPoliciesAndDefaults() throws {
        let definition = try load("policies")
        XCTAssertEqual(definition.retry?.maxAttempts, 0, "0 means unlimited")
        XCTAssertEqual(definition.retry?.initialInterval, .milliseconds(500))
        XCTAssertEqual(definition.retry?.maximumInterval, .seconds(50), "max_interval defaults to 100 x initial")
        XCTAssertEqual(definition.retry?.backoffCoefficient, 1.5)
        XCTAssertEqual(definition.retry?.nonRetryable, [1, 2])
        XCTAssertEqual(definition.rateLimit?.text, "5/s")
        XCTAssertEqual(definition.timeout, .seconds(5400))
        XCTAssertEqual(definition.owners, ["ops"])
        XCTAssertEqual(definition.steps[0].retry?.maxAttempts, 2)
        XCTAssertEqual(definition.steps[0].retry?.initialInterval, .seconds(1))
        XCTAssertEqual(try load("rate-limit-hour").owners, ["dba", "ops"])
        let plain = try load("spool-bare")
        XCTAssertEqual(plain.concurrency, 1)
        XCTAssertNil(plain.retry)
        XCTAssertFalse(plain.steps[0].idempotent)
    }

    func testRunOptions() throws {
        let definition = try load("run-options")
        XCTAssertEqual(definition.environment, ["GLOBAL": "1", "on": "yes"], "YAML 1.2: on and yes are strings")
        XCTAssertEqual(definition.vars, ["greeting": "hello"])
        guard case .run(let run) = definition.steps[0].kind else { return XCTFail("not a run step") }
        XCTAssertEqual(run.action, .run(command: "echo \"{{ vars.greeting }}\" | tr a-z A-Z\necho \"KEY=value\" >> \"$FLOWD_OUTPUT\"\n", shell: "/bin/bash"))
        XCTAssertEqual(run.user, "nobody")
        XCTAssertEqual(run.group, "nogroup")
        XCTAssertEqual(run.standardInput, "{{ trigger.payload }}")
        XCTAssertEqual(run.outputs, .env)
        XCTAssertEqual(definition.steps[0].environment, ["LOCAL": "two", "NUMBER": "3"])
        XCTAssertEqual(definition.steps[0].workingDirectory, "/tmp")
        XCTAssertEqual(definition.steps[0].name, "A bash step")
        XCTAssertEqual(definition.steps[1].action, .run(command: "print(\"hi\")", shell: "/usr/bin/python3"))
        XCTAssertEqual(definition.steps[2].action, .run(command: "echo", shell: "/usr/local/bin/fish"))
        XCTAssertEqual(definition.steps[3].action, .exec(arguments: ["/bin/echo", "{{ steps.python-step.output }}", "plain"]))
    }

    func testHTTPSetForeachSleep() throws {
        let http = try load("http-full")
        guard case .http(let post) = http.steps[0].kind, case .http(let fetch) = http.steps[1].kind else { return XCTFail() }
        XCTAssertEqual(post.method, "POST", "methods are case-insensitive and stored upper-case")
        XCTAssertEqual(post.query, ["page": "1", "q": "{{ trigger.name }}"])
        XCTAssertEqual(post.body, ["name": "{{ trigger.payload.name }}", "count": 3, "tags": ["a", "b"], "nested": ["ok": true, "none": nil]])
        XCTAssertEqual(post.timeout, .seconds(20))
        XCTAssertEqual(post.expect, [200, 201])
        XCTAssertEqual(fetch.method, "GET")
        XCTAssertEqual(fetch.expect, [])

        guard case .set(let values) = try load("set-step").steps[0].kind else { return XCTFail() }
        XCTAssertEqual(values, ["total": "{{ len(trigger.payload.items) }}", "label": "fixed", "flags": [1, 2.5, true, nil]])

        let loop = try load("foreach-step")
        guard case .foreach(let foreach) = loop.steps[1].kind else { return XCTFail() }
        XCTAssertEqual(foreach.items, "{{ steps.list.output }}")
        XCTAssertEqual(foreach.parallel, 4)
        XCTAssertEqual(foreach.maxItems, 500)
        XCTAssertEqual(foreach.steps.map(\.id), ["show", "again"])
        XCTAssertEqual(loop.allSteps.map(\.id), ["list", "each-file", "show", "again", "after"])

        let sleeps = try load("sleep-steps").steps.compactMap { step -> SleepStep? in
            if case .sleep(let sleep) = step.kind { return sleep } else { return nil }
        }
        XCTAssertEqual(sleeps, [.duration(.seconds(10)), .duration(.seconds(86400)), .until("2030-01-01T00:00:00Z"),
                                .until("{{ trigger.payload.at }}")])
    }

    func testApprovalTriggerUsesFailHandlersFallback() throws {
        guard case .approval(let approval) = try load("approval-full").steps[0].kind else { return XCTFail() }
        XCTAssertEqual(approval.fields.map(\.name), ["comment", "confirm", "environment", "ratio", "replicas", "ticket"])
        XCTAssertEqual(approval.fields[5], ApprovalField(name: "ticket", type: .string, required: true, pattern: "^[A-Z]+-[0-9]+$"))
        XCTAssertEqual(approval.fields[2].allowedValues, ["staging", "production"])
        XCTAssertEqual(approval.fields[4].allowedValues, [1, 2, 3])
        XCTAssertEqual(approval.fields[0], ApprovalField(name: "comment"))
        XCTAssertEqual(approval.onTimeout, .fail)
        XCTAssertEqual(approval.timeout, .seconds(2 * 86400))

        let triggers = try load("trigger-steps").steps.compactMap { step -> TriggerStep? in
            if case .trigger(let trigger) = step.kind { return trigger } else { return nil }
        }
        XCTAssertEqual(triggers, [TriggerStep(workflow: "other-flow"),
                                  TriggerStep(workflow: "reporting", payload: ["source": "{{ run.workflow }}", "items": [1, 2]], wait: true)])

        let uses = try load("uses-and-fail")
        guard case .uses(let mail) = uses.steps[1].kind, case .fail(let message) = uses.steps[2].kind else { return XCTFail() }
        XCTAssertEqual(mail, UsesStep(connector: "mail", action: "send"))
        XCTAssertEqual(message, "aborted by {{ trigger.payload.user }}")
        XCTAssertEqual(uses.steps[2].condition, "{{ trigger.payload.abort }}")

        let handlers = try load("handlers")
        XCTAssertEqual(handlers.onFailure.map(\.id), ["on_failure-1", "page"])
        XCTAssertEqual(handlers.onSuccess.map(\.id), ["on_success-1"])
        XCTAssertEqual(handlers.onCancel.map(\.id), ["cleanup"])

        let fallback = try load("fallback")
        XCTAssertEqual(fallback.steps[0].fallback.map(\.id), ["primary-fallback-1", "secondary"])
        XCTAssertEqual(fallback.step(id: "secondary")?.kind.name, "http")
    }

    func testSameMeaningSameVersionAndOneCharacterChangesIt() throws {
        XCTAssertEqual(try load("anchors-merge").version, try load("anchors-expanded").version,
                       "anchors, merge keys and x- keys must not change the version")
        XCTAssertEqual(try load("flow-style").version, try load("block-style").version,
                       "flow vs block style, quoting, key order and comments must not change the version")
        XCTAssertEqual(try load("anchors-merge").canonicalText, try load("anchors-expanded").canonicalText)

        let original = try String(contentsOfFile: fixtures + "block-style.yaml", encoding: .utf8)
        let base = try WorkflowLoader.load(text: original, path: "styles.yaml")
        XCTAssertEqual(base.version, try load("block-style").version, "the source path is not part of the version")
        let changed = try WorkflowLoader.load(text: original.replacingOccurrences(of: "echo hi", with: "echo ho"), path: "styles.yaml")
        XCTAssertNotEqual(changed.version, base.version, "a one-character change of a value changes the version")
        let defaultFilled = try WorkflowLoader.load(text: original + "on: { manual: true }\n", path: "styles.yaml")
        XCTAssertEqual(defaultFilled.version, base.version, "writing a default explicitly does not change the version")
        let sameCron = try WorkflowLoader.load(text: "on: { schedule: '@daily' }\nsteps: [{id: a, run: x}]\n", path: "c.yaml")
        let spelledCron = try WorkflowLoader.load(text: "on: { schedule: '0 0 * * *' }\nsteps: [{id: a, run: x}]\n", path: "c.yaml")
        XCTAssertEqual(sameCron.version, spelledCron.version, "cron texts are compared in their canonical form")
    }

    func testYAML12ScalarsAndUnicode() throws {
        let definition = try load("yaml12-scalars")
        XCTAssertEqual(definition.environment, ["ANSWER": "yes", "SWITCH": "off", "COUNT": "010"])
        XCTAssertEqual(definition.vars, ["answer": "no", "number": 31, "list": ["on", "y", "n"]])
        let unicode = try load("unicode")
        XCTAssertEqual(unicode.description, "Sauvegarde nocturne — été ☀")
        XCTAssertEqual(unicode.steps[0].name, "Grüße")
    }
}
