/*
 * protofloor.c: the floor of flowd's own protocol (BENCHMARKS.md, benchmark 1).
 *
 * floor.c is the least any journaled process runner does per run (spawn, wait, one
 * commit). This is the least a C program does to give the guarantees flowd's contract
 * gives (SPEC 3-5) for a one-step `exec:` workflow, with nothing else: no event loop,
 * no inotify, no definitions, no templates, no retries, no timeouts, no logs.
 *
 *   protofloor SPOOL DATABASE [N [THREADS [PROGRAM [ARGUMENT...]]]]   defaults: 2000 2 /bin/true
 *
 * Before timing: SPOOL/{incoming,active,done}/t are made (emptied if they exist), the
 * DATABASE is created afresh, and N files f00000... ("x\n") are dropped into
 * SPOOL/incoming/t (write .NAME, rename to NAME), as flowd's "pre-dropped" mode has them.
 * Timed: one readdir of incoming/t (the start-up scan), then THREADS threads each take
 * the next name and do, for that run:
 *
 *   1. claim: renameat2(incoming/t/NAME -> active/t/ID.NAME, RENAME_NOREPLACE);
 *   2. read the claimed file (open O_NOFOLLOW|O_NONBLOCK, fstat: a regular file, read);
 *      it is the run's payload;
 *   3. commit: INSERT the run row, status queued, spool path, payload;
 *   4. commit: run running + step attempt running (before the spawn: SPEC 5);
 *   5. posix_spawn PROGRAM: stdin /dev/null, stdout and stderr to two pipes (pipe2
 *      O_CLOEXEC), descriptors from 3 closed (addclosefrom_np), POSIX_SPAWN_SETPGROUP
 *      (own process group), signal mask emptied and dispositions reset, the parent's
 *      environment plus FLOWD_RUN, FLOWD_WORKFLOW, FLOWD_STEP, FLOWD_ATTEMPT;
 *   6. read both pipes to EOF (poll), keeping byte counts and the last 4 KiB of each;
 *   7. waitpid;
 *   8. commit: attempt finished (status, exit code, tails, byte counts) + run finished
 *      (status, ended_at) + its done/ spool path;
 *   9. rename active/t/ID.NAME -> done/t/ID.NAME (RENAME_NOREPLACE).
 *
 * One SQLite connection shared under a mutex (flowd's single journal writer), WAL,
 * synchronous=NORMAL, foreign_keys=ON, one transaction per commit (3 per run; flowd's
 * writer may fold several into one under load: group commit), statements prepared once.
 * Schema: flowd's runs and step_attempts tables with every column of its migrations
 * (Sources/DaemonCore/Journal/JournalSchema.swift), step_attempts WITHOUT ROWID with its
 * foreign key to runs, and every index on runs: runs_by_workflow (workflow, id),
 * runs_by_status (status, id),
 * runs_by_workflow_status (workflow, status, id), runs_finished_by_workflow and
 * runs_finished_by_end (partial, finished statuses). Not included: the definitions,
 * run_events, schedule_slots and paused_workflows tables (not written per run), and
 * flowd's fourth write per attempt (the child's pid and start time, read from
 * /proc/PID/stat, for orphan cleanup after a crash), which joins flowd's next commit.
 *
 * After timing it checks that the journal has N succeeded runs and done/t N files.
 * Prints one line of JSON, the shape of floor.c's: {"runs": N, "seconds": S,
 * "runs_per_second": R, "cpu_seconds": C, "children_cpu_seconds": K}: C is its own CPU
 * time over the timed part (user + system, all threads; the set-up and the drop left
 * out, unlike floor.c's, whose set-up is a few ms), K that of the programs it ran. Exits 1 on any failure, naming it.
 *
 * Build: cc -O2 -Wall -o protofloor protofloor.c -lsqlite3 -lpthread
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define WORKFLOW "t"
#define TAIL 4096
#define PAYLOAD_MAX 65536

static sqlite3 *db;
static sqlite3_stmt *insert_run, *start_run, *insert_attempt, *finish_attempt, *finish_run;
static pthread_mutex_t db_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t counter_lock = PTHREAD_MUTEX_INITIALIZER;
static long next_run, total_runs;
static char **names;
static char incoming[4096], active[4096], done[4096];
static char *default_argv[] = {"/bin/true", NULL};
static char **program_argv = default_argv;
static size_t environ_count;

#define FLOOR_PROGRAM "protofloor"
#include "floor_common.h"

static sqlite3_stmt *prepare(const char *sql)
{
    sqlite3_stmt *statement;
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &statement, NULL) != SQLITE_OK)
        die(sql, sqlite3_errmsg(db));
    return statement;
}

static void step(sqlite3_stmt *statement)
{
    if (sqlite3_step(statement) != SQLITE_DONE)
        die(sqlite3_sql(statement), sqlite3_errmsg(db));
    if (sqlite3_changes(db) != 1)
        die(sqlite3_sql(statement), "changed no row");
    sqlite3_reset(statement);
    sqlite3_clear_bindings(statement);
}

static void make_directory(const char *path)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        die(path, strerror(errno));
}

/* Makes DIRECTORY if needed and removes the files in it. */
static void fresh_directory(const char *path)
{
    make_directory(path);
    DIR *directory = opendir(path);
    if (!directory)
        die(path, strerror(errno));
    struct dirent *entry;
    while ((entry = readdir(directory)))
        if (entry->d_name[0] != '.' || (strcmp(entry->d_name, ".") && strcmp(entry->d_name, "..")))
            if (unlinkat(dirfd(directory), entry->d_name, 0) != 0)
                die(entry->d_name, strerror(errno));
    closedir(directory);
}

static void rename_noreplace(const char *from, const char *to)
{
    if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) != 0)
        die(from, strerror(errno));
}

static void drop_files(long count)
{
    for (long index = 0; index < count; index++) {
        char hidden[4200], visible[4200];
        snprintf(hidden, sizeof hidden, "%s/.f%05ld", incoming, index);
        snprintf(visible, sizeof visible, "%s/f%05ld", incoming, index);
        int fd = open(hidden, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, "x\n", 2) != 2 || close(fd) != 0)
            die(hidden, strerror(errno));
        if (rename(hidden, visible) != 0)
            die(visible, strerror(errno));
    }
}

/* The start-up scan: the names in incoming/t, hidden ones left out. */
static void scan_incoming(void)
{
    names = calloc(total_runs, sizeof *names);
    DIR *directory = opendir(incoming);
    if (!names || !directory)
        die(incoming, "cannot scan");
    long found = 0;
    struct dirent *entry;
    while ((entry = readdir(directory)))
        if (entry->d_name[0] != '.' && found < total_runs)
            names[found++] = strdup(entry->d_name);
    closedir(directory);
    if (found != total_runs)
        die(incoming, "fewer files than runs");
}

/* Reads the claimed file: a regular file no bigger than PAYLOAD_MAX. */
static size_t read_payload(const char *path, char *buffer)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat status;
    if (fd < 0 || fstat(fd, &status) != 0)
        die(path, strerror(errno));
    if (!S_ISREG(status.st_mode) || status.st_size > PAYLOAD_MAX)
        die(path, "not a regular file or too big");
    ssize_t length = read(fd, buffer, PAYLOAD_MAX);
    if (length < 0)
        die(path, strerror(errno));
    close(fd);
    return (size_t)length;
}

struct output {
    int fd;
    long long bytes;
    char tail[TAIL];
    size_t tail_length;
};

/* Reads both pipes until both are at EOF, keeping the last TAIL bytes of each. */
static void drain(struct output *outputs)
{
    int open_count = 2;
    while (open_count > 0) {
        struct pollfd polled[2];
        int count = 0;
        for (int i = 0; i < 2; i++)
            if (outputs[i].fd >= 0)
                polled[count++] = (struct pollfd){.fd = outputs[i].fd, .events = POLLIN};
        if (poll(polled, count, -1) < 0) {
            if (errno == EINTR)
                continue;
            die("poll", strerror(errno));
        }
        for (int p = 0; p < count; p++) {
            if (!polled[p].revents)
                continue;
            struct output *out = outputs[0].fd == polled[p].fd ? &outputs[0] : &outputs[1];
            char buffer[16384];
            ssize_t length = read(out->fd, buffer, sizeof buffer);
            if (length < 0 && errno == EINTR)
                continue;
            if (length < 0)
                die("read", strerror(errno));
            if (length == 0) {
                close(out->fd);
                out->fd = -1;
                open_count--;
                continue;
            }
            out->bytes += length;
            if ((size_t)length >= TAIL) {
                memcpy(out->tail, buffer + length - TAIL, TAIL);
                out->tail_length = TAIL;
            } else {
                size_t fresh = (size_t)length;
                size_t keep = out->tail_length + fresh > TAIL ? TAIL - fresh : out->tail_length;
                memmove(out->tail, out->tail + out->tail_length - keep, keep);
                memcpy(out->tail + keep, buffer, fresh);
                out->tail_length = keep + fresh;
            }
        }
    }
}

static pid_t spawn(long run, int stdout_fd, int stderr_fd)
{
    char run_variable[64];
    snprintf(run_variable, sizeof run_variable, "FLOWD_RUN=%ld", run);
    char **environment = malloc((environ_count + 5) * sizeof *environment);
    if (!environment)
        die("malloc", "environment");
    memcpy(environment, environ, environ_count * sizeof *environment);
    environment[environ_count] = run_variable;
    environment[environ_count + 1] = "FLOWD_WORKFLOW=" WORKFLOW;
    environment[environ_count + 2] = "FLOWD_STEP=s0";
    environment[environ_count + 3] = "FLOWD_ATTEMPT=1";
    environment[environ_count + 4] = NULL;

    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    sigset_t empty, all;
    sigemptyset(&empty);
    sigfillset(&all);
    int rc;
    if ((rc = posix_spawn_file_actions_init(&actions)) || (rc = posix_spawnattr_init(&attributes))
        || (rc = posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0))
        || (rc = posix_spawn_file_actions_adddup2(&actions, stdout_fd, 1))
        || (rc = posix_spawn_file_actions_adddup2(&actions, stderr_fd, 2))
        || (rc = posix_spawn_file_actions_addclosefrom_np(&actions, 3))
        || (rc = posix_spawnattr_setpgroup(&attributes, 0)) || (rc = posix_spawnattr_setsigmask(&attributes, &empty))
        || (rc = posix_spawnattr_setsigdefault(&attributes, &all))
        || (rc = posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)))
        die("posix_spawn set-up", strerror(rc));
    pid_t pid;
    rc = posix_spawn(&pid, program_argv[0], &actions, &attributes, program_argv, environment);
    if (rc != 0)
        die("posix_spawn", strerror(rc));
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    free(environment);
    return pid;
}

static void commit_begin(void)
{
    pthread_mutex_lock(&db_lock);
    exec_sql("BEGIN IMMEDIATE");
}

static void commit_end(void)
{
    exec_sql("COMMIT");
    pthread_mutex_unlock(&db_lock);
}

static void run_one(long run, const char *name)
{
    char from[4200], claimed[4200], finished[4200], payload[PAYLOAD_MAX];
    snprintf(from, sizeof from, "%s/%s", incoming, name);
    snprintf(claimed, sizeof claimed, "%s/%ld.%s", active, run, name);
    snprintf(finished, sizeof finished, "%s/%ld.%s", done, run, name);

    rename_noreplace(from, claimed);
    size_t payload_length = read_payload(claimed, payload);

    commit_begin();
    sqlite3_bind_int64(insert_run, 1, run);
    sqlite3_bind_text(insert_run, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(insert_run, 3, claimed, -1, SQLITE_STATIC);
    sqlite3_bind_text(insert_run, 4, payload, (int)payload_length, SQLITE_STATIC);
    sqlite3_bind_int64(insert_run, 5, now_us());
    step(insert_run);
    commit_end();

    commit_begin();
    long long started = now_us();
    sqlite3_bind_int64(start_run, 1, started);
    sqlite3_bind_int64(start_run, 2, run);
    step(start_run);
    sqlite3_bind_int64(insert_attempt, 1, run);
    sqlite3_bind_int64(insert_attempt, 2, started);
    step(insert_attempt);
    commit_end();

    int stdout_pipe[2], stderr_pipe[2];
    if (pipe2(stdout_pipe, O_CLOEXEC) != 0 || pipe2(stderr_pipe, O_CLOEXEC) != 0)
        die("pipe2", strerror(errno));
    pid_t pid = spawn(run, stdout_pipe[1], stderr_pipe[1]);
    close(stdout_pipe[1]);
    close(stderr_pipe[1]);
    struct output outputs[2] = {{.fd = stdout_pipe[0]}, {.fd = stderr_pipe[0]}};
    drain(outputs);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            die("waitpid", strerror(errno));
    int succeeded = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    const char *outcome = succeeded ? "succeeded" : "failed";

    commit_begin();
    long long ended = now_us();
    sqlite3_bind_text(finish_attempt, 1, outcome, -1, SQLITE_STATIC);
    sqlite3_bind_int64(finish_attempt, 2, ended);
    if (WIFEXITED(status))
        sqlite3_bind_int(finish_attempt, 3, WEXITSTATUS(status));
    else
        sqlite3_bind_int(finish_attempt, 4, WTERMSIG(status));
    sqlite3_bind_text(finish_attempt, 5, outputs[0].tail, (int)outputs[0].tail_length, SQLITE_STATIC);
    sqlite3_bind_text(finish_attempt, 6, outputs[1].tail, (int)outputs[1].tail_length, SQLITE_STATIC);
    sqlite3_bind_int64(finish_attempt, 7, outputs[0].bytes);
    sqlite3_bind_int64(finish_attempt, 8, outputs[1].bytes);
    sqlite3_bind_int64(finish_attempt, 9, run);
    step(finish_attempt);
    sqlite3_bind_text(finish_run, 1, outcome, -1, SQLITE_STATIC);
    sqlite3_bind_int64(finish_run, 2, ended);
    if (!succeeded)
        sqlite3_bind_text(finish_run, 3, "s0", -1, SQLITE_STATIC);
    sqlite3_bind_text(finish_run, 4, finished, -1, SQLITE_STATIC);
    sqlite3_bind_int64(finish_run, 5, run);
    step(finish_run);
    commit_end();

    rename_noreplace(claimed, finished);
}

static void *worker(void *unused)
{
    (void)unused;
    for (;;) {
        pthread_mutex_lock(&counter_lock);
        long run = next_run < total_runs ? ++next_run : 0;
        pthread_mutex_unlock(&counter_lock);
        if (run == 0)
            return NULL;
        run_one(run, names[run - 1]);
    }
}

static void open_journal(const char *path)
{
    unlink(path);
    char side[4200];
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
    if (sqlite3_open(path, &db) != SQLITE_OK)
        die(path, sqlite3_errmsg(db));
    exec_sql("PRAGMA foreign_keys = ON");
    exec_sql("PRAGMA journal_mode = WAL");
    exec_sql("PRAGMA synchronous = NORMAL");
    exec_sql("CREATE TABLE runs (id INTEGER PRIMARY KEY, workflow TEXT NOT NULL, definition_hash TEXT NOT NULL, "
             "status TEXT NOT NULL, trigger_kind TEXT NOT NULL, trigger_name TEXT, spool_path TEXT, payload TEXT, "
             "created_at INTEGER NOT NULL, started_at INTEGER, ended_at INTEGER, failed_step TEXT, error TEXT, "
             "vars TEXT, parent_run INTEGER, replay_of INTEGER)");
    exec_sql("CREATE INDEX runs_by_workflow ON runs (workflow, id)");
    exec_sql("CREATE INDEX runs_by_status ON runs (status, id)");
    exec_sql("CREATE INDEX runs_by_workflow_status ON runs (workflow, status, id)");
    exec_sql("CREATE INDEX runs_finished_by_workflow ON runs (workflow, id) WHERE status IN ('succeeded', 'failed', 'cancelled')");
    exec_sql("CREATE INDEX runs_finished_by_end ON runs (ended_at) WHERE status IN ('succeeded', 'failed', 'cancelled')");
    exec_sql("CREATE TABLE step_attempts (run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE, "
             "step_index INTEGER NOT NULL, step_id TEXT NOT NULL, attempt INTEGER NOT NULL, status TEXT NOT NULL, "
             "started_at INTEGER NOT NULL, ended_at INTEGER, exit_code INTEGER, signal INTEGER, stdout_tail TEXT, "
             "stderr_tail TEXT, stdout_bytes INTEGER, stderr_bytes INTEGER, error TEXT, kind TEXT, input TEXT, output TEXT, "
             "retry_reason TEXT, retry_expected INTEGER, wake_at INTEGER, pid INTEGER, pid_start_time INTEGER, item INTEGER, "
             "PRIMARY KEY (run_id, step_index, attempt)) WITHOUT ROWID");
    insert_run = prepare("INSERT INTO runs (id, workflow, definition_hash, status, trigger_kind, trigger_name, spool_path, "
                         "payload, created_at, vars) VALUES (?1, '" WORKFLOW "', "
                         "'0000000000000000000000000000000000000000000000000000000000000000', 'queued', 'spool', ?2, ?3, ?4, ?5, '{}')");
    start_run = prepare("UPDATE runs SET status = 'running', started_at = ?1 WHERE id = ?2");
    insert_attempt = prepare("INSERT INTO step_attempts (run_id, step_index, step_id, attempt, status, started_at, kind, input) "
                             "VALUES (?1, 0, 's0', 1, 'running', ?2, 'exec', '{}')");
    finish_attempt = prepare("UPDATE step_attempts SET status = ?1, ended_at = ?2, exit_code = ?3, signal = ?4, "
                             "stdout_tail = ?5, stderr_tail = ?6, stdout_bytes = ?7, stderr_bytes = ?8, error = NULL, "
                             "output = '{}', retry_reason = NULL, retry_expected = NULL "
                             "WHERE run_id = ?9 AND step_index = 0 AND attempt = 1");
    finish_run = prepare("UPDATE runs SET status = ?1, ended_at = ?2, failed_step = ?3, error = NULL, spool_path = ?4 WHERE id = ?5");
}

/* The journal and done/ agree that every run ended, exactly once. */
static void check(void)
{
    sqlite3_stmt *statement = prepare("SELECT count(*), sum(status = 'succeeded'), count(DISTINCT trigger_name) FROM runs");
    if (sqlite3_step(statement) != SQLITE_ROW)
        die("check", sqlite3_errmsg(db));
    long runs = sqlite3_column_int64(statement, 0), succeeded = sqlite3_column_int64(statement, 1),
         distinct = sqlite3_column_int64(statement, 2);
    sqlite3_finalize(statement);
    long done_files = 0;
    DIR *directory = opendir(done);
    struct dirent *entry;
    while (directory && (entry = readdir(directory)))
        done_files += entry->d_name[0] != '.';
    if (directory)
        closedir(directory);
    if (runs != total_runs || succeeded != total_runs || distinct != total_runs || done_files != total_runs) {
        fprintf(stderr, "protofloor: check: %ld runs, %ld succeeded, %ld distinct names, %ld files in done/ (expected %ld)\n",
                runs, succeeded, distinct, done_files, total_runs);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: protofloor SPOOL DATABASE [N [THREADS [PROGRAM [ARGUMENT...]]]]\n");
        return 2;
    }
    total_runs = argc > 3 ? atol(argv[3]) : 2000;
    int threads = argc > 4 ? atoi(argv[4]) : 2;
    if (argc > 5)
        program_argv = argv + 5;
    if (total_runs < 1 || total_runs > 99999 || threads < 1 || threads > 256)
        die("arguments", "N must be 1 to 99999 and THREADS 1 to 256");
    while (environ[environ_count])
        environ_count++;

    const char *spool = argv[1];
    char path[4200];
    make_directory(spool);
    const char *parts[] = {"incoming", "active", "done"};
    char *targets[] = {incoming, active, done};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", spool, parts[i]);
        make_directory(path);
        if (snprintf(targets[i], sizeof incoming, "%s/%s", path, WORKFLOW) >= (int)sizeof incoming)
            die(spool, "path too long");
        fresh_directory(targets[i]);
    }
    open_journal(argv[2]);
    drop_files(total_runs);

    pthread_t ids[256];
    struct rusage before, self, children;
    getrusage(RUSAGE_SELF, &before);
    long long start = now_us();
    scan_incoming();
    for (int i = 0; i < threads; i++)
        if (pthread_create(&ids[i], NULL, worker, NULL) != 0)
            die("pthread_create", "failed");
    for (int i = 0; i < threads; i++)
        pthread_join(ids[i], NULL);
    double seconds = (now_us() - start) / 1e6;

    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    check();
    sqlite3_finalize(insert_run);
    sqlite3_finalize(start_run);
    sqlite3_finalize(insert_attempt);
    sqlite3_finalize(finish_attempt);
    sqlite3_finalize(finish_run);
    sqlite3_close(db);
    printf("{\"runs\": %ld, \"seconds\": %.6f, \"runs_per_second\": %.1f, \"cpu_seconds\": %.4f, "
           "\"children_cpu_seconds\": %.4f}\n", total_runs, seconds, total_runs / seconds, cpu_seconds(&self) - cpu_seconds(&before),
           cpu_seconds(&children));
    return 0;
}
