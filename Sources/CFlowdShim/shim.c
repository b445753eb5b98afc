// shim.c: implementations of CFlowdShim.h. Thin: no retries, no policy; the
// Swift side retries EINTR and turns errno into SystemError.
#define _GNU_SOURCE
#include "CFlowdShim.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int flowd_prepare_actions(posix_spawn_file_actions_t *actions,
                                 const char *working_directory, int stdin_fd,
                                 int stdout_fd, int stderr_fd) {
    int error;
    if (stdin_fd < 0) {
        error = posix_spawn_file_actions_addopen(actions, 0, "/dev/null", O_RDONLY, 0);
    } else {
        error = posix_spawn_file_actions_adddup2(actions, stdin_fd, 0);
    }
    if (error != 0) return error;
    if ((error = posix_spawn_file_actions_adddup2(actions, stdout_fd, 1)) != 0) return error;
    if ((error = posix_spawn_file_actions_adddup2(actions, stderr_fd, 2)) != 0) return error;
    if (working_directory != NULL) {
        error = posix_spawn_file_actions_addchdir_np(actions, working_directory);
        if (error != 0) return error;
    }
    return posix_spawn_file_actions_addclosefrom_np(actions, 3);
}

static int flowd_prepare_attributes(posix_spawnattr_t *attributes) {
    sigset_t empty, all;
    sigemptyset(&empty);
    sigfillset(&all);
    int error;
    if ((error = posix_spawnattr_setpgroup(attributes, 0)) != 0) return error;
    if ((error = posix_spawnattr_setsigmask(attributes, &empty)) != 0) return error;
    if ((error = posix_spawnattr_setsigdefault(attributes, &all)) != 0) return error;
    return posix_spawnattr_setflags(attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK
                                                    | POSIX_SPAWN_SETSIGDEF);
}

int flowd_spawn(const char *path, char *const argv[], char *const envp[],
                const char *working_directory, int stdin_fd, int stdout_fd,
                int stderr_fd, pid_t *pid_out) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    int error = posix_spawn_file_actions_init(&actions);
    if (error != 0) return error;
    error = posix_spawnattr_init(&attributes);
    if (error != 0) {
        posix_spawn_file_actions_destroy(&actions);
        return error;
    }
    error = flowd_prepare_actions(&actions, working_directory, stdin_fd, stdout_fd, stderr_fd);
    if (error == 0) error = flowd_prepare_attributes(&attributes);
    if (error == 0) error = posix_spawn(pid_out, path, &actions, &attributes, argv, envp);
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    return error;
}

int flowd_pipe(int descriptors[2]) { return pipe2(descriptors, O_CLOEXEC); }

int flowd_pidfd_open(pid_t pid) { return pidfd_open(pid, 0); }

int flowd_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

int flowd_wait(pid_t pid, int *exited, int *value) {
    int status = 0;
    if (waitpid(pid, &status, 0) < 0) return -1;
    if (WIFEXITED(status)) {
        *exited = 1;
        *value = WEXITSTATUS(status);
    } else {
        *exited = 0;
        *value = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    }
    return 0;
}

ssize_t flowd_write_without_sigpipe(int fd, const void *buffer, size_t length) {
    sigset_t pipe_only, previous, pending;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, &previous);
    sigpending(&pending);
    int was_pending = sigismember(&pending, SIGPIPE);
    ssize_t result = write(fd, buffer, length);
    int saved_errno = errno;
    if (result < 0 && saved_errno == EPIPE && !was_pending) {
        struct timespec no_wait = {0, 0};
        while (sigtimedwait(&pipe_only, NULL, &no_wait) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    errno = saved_errno;
    return result;
}
