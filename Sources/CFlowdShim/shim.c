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
int flowd_pidfd_send_signal(int pidfd, int signal) { return pidfd_send_signal(pidfd, signal, NULL, 0); }

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

/* ---- event loop, signals and renames (DaemonCore/System) ---- */

#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <stdio.h>
#include <linux/fs.h>
#include <sys/socket.h>
#include <sys/ioctl.h>

const unsigned int flowd_epollin = EPOLLIN, flowd_epollout = EPOLLOUT,
                   flowd_epollerr = EPOLLERR, flowd_epollhup = EPOLLHUP;

int flowd_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int flowd_epoll_control(int epoll_fd, int add, int fd, unsigned int events) {
    struct epoll_event event = { .events = events, .data.fd = fd };
    return epoll_ctl(epoll_fd, add ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, fd, &event);
}

int flowd_epoll_wait(int epoll_fd, int *descriptors, unsigned int *events, int capacity, int timeout_ms) {
    struct epoll_event ready[64];
    if (capacity > 64) capacity = 64;
    int count = epoll_wait(epoll_fd, ready, capacity, timeout_ms);
    for (int index = 0; index < count; index++) {
        descriptors[index] = ready[index].data.fd;
        events[index] = ready[index].events;
    }
    return count;
}

int flowd_signalfd(const int *signals, int count) {
    sigset_t mask;
    sigemptyset(&mask);
    for (int index = 0; index < count; index++) sigaddset(&mask, signals[index]);
    int result = pthread_sigmask(SIG_BLOCK, &mask, NULL);
    if (result != 0) { errno = result; return -1; }
    return signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
}

int flowd_signalfd_read(int fd) {
    struct signalfd_siginfo information;
    ssize_t count = read(fd, &information, sizeof information);
    if (count != (ssize_t)sizeof information) return -1;
    return (int)information.ssi_signo;
}

int flowd_rename_noreplace(const char *from, const char *to) {
    return renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE);
}

int flowd_accept(int listener) {
    return accept4(listener, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
}

int flowd_terminal_columns(int fd) {
    struct winsize size;
    if (!isatty(fd) || ioctl(fd, TIOCGWINSZ, &size) != 0 || size.ws_col == 0) return -1;
    return size.ws_col;
}
