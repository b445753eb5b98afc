// CFlowdShim.h: the few libc facilities Swift cannot reach directly or cleanly
// (posix_spawn attribute and file-action setup, pidfd_open, eventfd, wait status
// macros, a write that never raises SIGPIPE; epoll with its packed struct, signalfd,
// renameat2). DaemonCore/Process and DaemonCore/System use them.
//
// Every function follows the libc convention the Swift `systemCall` helper expects:
// it returns -1 and sets errno on failure, except `flowd_spawn`, which returns the
// error number like posix_spawn itself.
#ifndef CFLOWDSHIM_H
#define CFLOWDSHIM_H

#include <sys/types.h>

/// Spawns `path` with `argv` and `envp` (NULL-terminated) in a new process group
/// whose id is the child's pid, with an empty signal mask and default dispositions
/// for every catchable signal. stdin is `stdin_fd`, or /dev/null when it is -1;
/// stdout and stderr are `stdout_fd` and `stderr_fd`; every other descriptor is
/// closed. The child changes to `working_directory` first when it is not NULL.
/// Returns 0 and stores the pid, or an errno value (nothing was started).
int flowd_spawn(const char *path, char *const argv[], char *const envp[],
                const char *working_directory, int stdin_fd, int stdout_fd,
                int stderr_fd, pid_t *pid_out);

/// pipe2(2) with O_CLOEXEC (Swift's Glibc does not export pipe2).
int flowd_pipe(int descriptors[2]);

/// pidfd_open(2) with no flags: a descriptor that polls readable once `pid` exits.
int flowd_pidfd_open(pid_t pid);
int flowd_pidfd_send_signal(int pidfd, int signal);

/// eventfd(2), non-blocking and close-on-exec, initial count 0.
int flowd_eventfd(void);

/// Reaps `pid` with waitpid(2). On success stores 1 in `exited` and the exit
/// status in `value`, or 0 in `exited` and the terminating signal in `value`.
int flowd_wait(pid_t pid, int *exited, int *value);

/// write(2) that reports EPIPE without raising SIGPIPE in the process, whatever
/// the process's SIGPIPE disposition: the signal is blocked in the calling
/// thread for the call and a SIGPIPE the call raised is consumed.
ssize_t flowd_write_without_sigpipe(int fd, const void *buffer, size_t length);

/// epoll_create1(EPOLL_CLOEXEC).
int flowd_epoll_create(void);

/// epoll_ctl ADD (`add` non-zero) or DEL of `fd` watching `events` (EPOLLIN etc.).
int flowd_epoll_control(int epoll_fd, int add, int fd, unsigned int events);

/// epoll_wait into two parallel arrays (the kernel struct is packed, which Swift
/// does not import well): ready descriptors and their event masks.
int flowd_epoll_wait(int epoll_fd, int *descriptors, unsigned int *events, int capacity, int timeout_ms);

/// The EPOLLIN, EPOLLOUT, EPOLLERR and EPOLLHUP bits.
extern const unsigned int flowd_epollin, flowd_epollout, flowd_epollerr, flowd_epollhup;

/// Blocks `signals` in the calling thread (threads created later inherit the mask)
/// and returns a non-blocking, close-on-exec signalfd that reads them.
int flowd_signalfd(const int *signals, int count);

/// Reads one pending signal from a signalfd: its number, or -1 (EAGAIN when none).
int flowd_signalfd_read(int fd);

/// accept4(2) with SOCK_CLOEXEC | SOCK_NONBLOCK, so an accepted socket is never
/// inherited by a step spawned at the same moment.
int flowd_accept(int listener);

/// The width of the terminal on `fd` in columns (TIOCGWINSZ), or -1 when it is not a
/// terminal or does not say.
int flowd_terminal_columns(int fd);

/// renameat2(RENAME_NOREPLACE): fails with EEXIST instead of replacing `to`.
int flowd_rename_noreplace(const char *from, const char *to);

#endif
