// JournalSchema.swift: the journal's tables, as named append-only migrations.
//
// Never edit a migration that has shipped; add a new one. PRAGMA user_version holds the
// number of migrations applied. Timestamps are microseconds since the epoch (UTC).
// step_attempts.step_index is the attempt's place in the run's execution order (a
// foreach body step gets one per item), not the step's place in the definition.

enum JournalSchema {
    static let migrations: [SQLiteMigration] = [
        SQLiteMigration(name: "create runs, step attempts and definitions", sql: """
            CREATE TABLE definitions (
                hash        TEXT PRIMARY KEY,
                workflow    TEXT NOT NULL,
                canonical   TEXT NOT NULL,
                source_path TEXT NOT NULL,
                loaded_at   INTEGER NOT NULL
            );
            CREATE TABLE runs (
                id              INTEGER PRIMARY KEY,
                workflow        TEXT NOT NULL,
                definition_hash TEXT NOT NULL,
                status          TEXT NOT NULL,
                trigger_kind    TEXT NOT NULL,
                trigger_name    TEXT,
                spool_path      TEXT,
                payload         TEXT,
                created_at      INTEGER NOT NULL,
                started_at      INTEGER,
                ended_at        INTEGER,
                failed_step     TEXT,
                error           TEXT
            );
            CREATE INDEX runs_by_workflow ON runs (workflow, id);
            CREATE INDEX runs_by_status ON runs (status, id);
            CREATE TABLE step_attempts (
                run_id       INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
                step_index   INTEGER NOT NULL,
                step_id      TEXT NOT NULL,
                attempt      INTEGER NOT NULL,
                status       TEXT NOT NULL,
                started_at   INTEGER NOT NULL,
                ended_at     INTEGER,
                exit_code    INTEGER,
                signal       INTEGER,
                stdout_tail  TEXT,
                stderr_tail  TEXT,
                stdout_bytes INTEGER,
                stderr_bytes INTEGER,
                error        TEXT,
                PRIMARY KEY (run_id, step_index, attempt)
            ) WITHOUT ROWID;
            """),
        SQLiteMigration(name: "create run events (admin actions with the caller's uid and pid)", sql: """
            CREATE TABLE run_events (
                id       INTEGER PRIMARY KEY,
                at       INTEGER NOT NULL,
                run_id   INTEGER,
                workflow TEXT,
                kind     TEXT NOT NULL,
                uid      INTEGER,
                pid      INTEGER,
                details  TEXT
            );
            CREATE INDEX run_events_by_run ON run_events (run_id, id);
            CREATE INDEX runs_by_workflow_ended ON runs (workflow, ended_at);
            """),
        SQLiteMigration(name: "step kinds, inputs, outputs, retry reasons and wake times; run vars and parents", sql: """
            ALTER TABLE step_attempts ADD COLUMN kind TEXT;
            ALTER TABLE step_attempts ADD COLUMN input TEXT;
            ALTER TABLE step_attempts ADD COLUMN output TEXT;
            ALTER TABLE step_attempts ADD COLUMN retry_reason TEXT;
            ALTER TABLE step_attempts ADD COLUMN retry_expected INTEGER;
            ALTER TABLE step_attempts ADD COLUMN wake_at INTEGER;
            ALTER TABLE runs ADD COLUMN vars TEXT;
            ALTER TABLE runs ADD COLUMN parent_run INTEGER;
            """),
        SQLiteMigration(name: "index runs by workflow and status", sql: """
            CREATE INDEX runs_by_workflow_status ON runs (workflow, status, id);
            """),
        SQLiteMigration(name: "the last slot each schedule fired for", sql: """
            CREATE TABLE schedule_slots (
                workflow  TEXT NOT NULL,
                schedule  TEXT NOT NULL,
                last_slot INTEGER NOT NULL,
                PRIMARY KEY (workflow, schedule)
            ) WITHOUT ROWID;
            """),
        SQLiteMigration(name: "paused workflows", sql: """
            CREATE TABLE paused_workflows (workflow TEXT PRIMARY KEY, paused_at INTEGER NOT NULL) WITHOUT ROWID;
            """),
        SQLiteMigration(name: "definition source texts and replay links", sql: """
            ALTER TABLE definitions ADD COLUMN source TEXT;
            ALTER TABLE runs ADD COLUMN replay_of INTEGER;
            """),
        SQLiteMigration(name: "retention: finished runs by workflow and by end time", sql: """
            CREATE INDEX runs_finished_by_workflow ON runs (workflow, id) WHERE status IN ('succeeded', 'failed', 'cancelled');
            CREATE INDEX runs_finished_by_end ON runs (ended_at) WHERE status IN ('succeeded', 'failed', 'cancelled');
            """),
        SQLiteMigration(name: "step attempt process ids and start times (orphans after a crash)", sql: """
            ALTER TABLE step_attempts ADD COLUMN pid INTEGER;
            ALTER TABLE step_attempts ADD COLUMN pid_start_time INTEGER;
            """),
        SQLiteMigration(name: "the foreach item a parallel item's attempt ran for", sql: """
            ALTER TABLE step_attempts ADD COLUMN item INTEGER;
            """),
        // No query uses it (stats reads runs_by_workflow, retention the partial indexes),
        // and every run paid for it three times (insert, then its end moved it).
        SQLiteMigration(name: "drop the unused index of runs by workflow and end time", sql: """
            DROP INDEX IF EXISTS runs_by_workflow_ended;
            """),
    ]
}
