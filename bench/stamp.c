/*
 * stamp.c: a step that records when it started running (BENCHMARKS.md, benchmark 3).
 *
 *   stamp FILE      appends "$FLOWD_TRIGGER_NAME MICROSECONDS\n" to FILE
 *
 * The time is CLOCK_REALTIME in microseconds, the journal's clock, taken first thing
 * in main: the latency from a file's rename to its step's process actually running.
 * Build: cc -O2 -o stamp stamp.c
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (argc != 2) {
        fprintf(stderr, "usage: stamp FILE\n");
        return 2;
    }
    const char *name = getenv("FLOWD_TRIGGER_NAME");
    char line[512];
    int length = snprintf(line, sizeof line, "%s %lld\n", name ? name : "-",
                          (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
    int fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, line, (size_t)length) != length) {
        perror(argv[1]);
        return 1;
    }
    return close(fd) == 0 ? 0 : 1;
}
