/*
 * floor.c: the throughput floor flowd is measured against (BENCHMARKS.md, benchmark 1).
 *
 * Does the least any journaled process runner must do per run: spawn a program
 * (posix_spawn + waitpid) and commit one SQLite row saying it ran, WAL mode,
 * synchronous=NORMAL, one transaction per row. THREADS threads share the N spawns and
 * one connection (a mutex serializes the commits, like a single journal writer).
 *
 *   floor DATABASE [N [THREADS [PROGRAM [ARGUMENT...]]]]     defaults: 2000 2 /bin/true
 *
 * Prints one line of JSON: {"runs": N, "seconds": S, "runs_per_second": R, "cpu_seconds": C,
 * "children_cpu_seconds": K}: C is the floor's own CPU time (user + system, all threads,
 * start-up included), K that of the programs it ran.
 * Exits 1 on any spawn, wait or SQLite failure, naming it.
 *
 * Build: cc -O2 -o floor floor.c -lsqlite3 -lpthread
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <spawn.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static sqlite3 *db;
static sqlite3_stmt *insert;
static pthread_mutex_t db_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t counter_lock = PTHREAD_MUTEX_INITIALIZER;
static long next_run, total_runs;
static char *default_argv[] = {"/bin/true", NULL};
static char **program_argv = default_argv;

#define FLOOR_PROGRAM "floor"
#include "floor_common.h"

/* One row per run, committed in its own transaction. */
static void record(long run, long long started, long long ended, int status)
{
    pthread_mutex_lock(&db_lock);
    exec_sql("BEGIN IMMEDIATE");
    sqlite3_bind_int64(insert, 1, run);
    sqlite3_bind_int64(insert, 2, started);
    sqlite3_bind_int64(insert, 3, ended);
    sqlite3_bind_int(insert, 4, status);
    if (sqlite3_step(insert) != SQLITE_DONE)
        die("insert", sqlite3_errmsg(db));
    sqlite3_reset(insert);
    exec_sql("COMMIT");
    pthread_mutex_unlock(&db_lock);
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
        long long started = now_us();
        pid_t pid;
        int rc = posix_spawn(&pid, program_argv[0], NULL, NULL, program_argv, environ);
        if (rc != 0)
            die("posix_spawn", strerror(rc));
        int status;
        if (waitpid(pid, &status, 0) < 0)
            die("waitpid", strerror(errno));
        record(run, started, now_us(), status);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: floor DATABASE [N [THREADS [PROGRAM [ARGUMENT...]]]]\n");
        return 2;
    }
    total_runs = argc > 2 ? atol(argv[2]) : 2000;
    int threads = argc > 3 ? atoi(argv[3]) : 2;
    if (argc > 4)
        program_argv = argv + 4;
    if (total_runs < 1 || threads < 1 || threads > 256)
        die("arguments", "N and THREADS must be positive (THREADS at most 256)");

    if (sqlite3_open(argv[1], &db) != SQLITE_OK)
        die(argv[1], sqlite3_errmsg(db));
    exec_sql("PRAGMA journal_mode = WAL");
    exec_sql("PRAGMA synchronous = NORMAL");
    exec_sql("CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY, started_at INTEGER, ended_at INTEGER, status INTEGER)");
    exec_sql("DELETE FROM runs");
    if (sqlite3_prepare_v2(db, "INSERT INTO runs VALUES (?, ?, ?, ?)", -1, &insert, NULL) != SQLITE_OK)
        die("prepare", sqlite3_errmsg(db));

    pthread_t ids[256];
    long long start = now_us();
    for (int i = 0; i < threads; i++)
        if (pthread_create(&ids[i], NULL, worker, NULL) != 0)
            die("pthread_create", "failed");
    for (int i = 0; i < threads; i++)
        pthread_join(ids[i], NULL);
    double seconds = (now_us() - start) / 1e6;

    sqlite3_finalize(insert);
    sqlite3_close(db);
    struct rusage self, children;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    printf("{\"runs\": %ld, \"seconds\": %.6f, \"runs_per_second\": %.1f, \"cpu_seconds\": %.4f, "
           "\"children_cpu_seconds\": %.4f}\n", total_runs, seconds, total_runs / seconds, cpu_seconds(&self),
           cpu_seconds(&children));
    return 0;
}
