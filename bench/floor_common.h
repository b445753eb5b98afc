/*
 * floor_common.h: what floor.c and protofloor.c share. Each defines FLOOR_PROGRAM (its
 * name, for error messages) and declares `static sqlite3 *db;` before including it.
 */
#ifndef FLOOR_COMMON_H
#define FLOOR_COMMON_H

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

static void die(const char *what, const char *detail)
{
    fprintf(stderr, FLOOR_PROGRAM ": %s: %s\n", what, detail);
    exit(1);
}

static long long now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static double cpu_seconds(const struct rusage *usage)
{
    return usage->ru_utime.tv_sec + usage->ru_stime.tv_sec + (usage->ru_utime.tv_usec + usage->ru_stime.tv_usec) / 1e6;
}

static void exec_sql(const char *sql)
{
    char *error = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &error) != SQLITE_OK)
        die(sql, error ? error : "?");
}

#endif
