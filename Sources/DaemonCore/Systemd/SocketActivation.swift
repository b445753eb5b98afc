// SocketActivation.swift: picks up the control socket that systemd bound for flowd
// (flowd.socket, ListenStream=/run/flowd/control.sock) through sd_listen_fds.
//
// Not socket-activated: returns nil and flowd binds the socket itself. Activated with
// something flowd cannot use (several descriptors, or not a listening AF_UNIX stream
// socket): throws a SystemError that says what was passed, so the unit's mistake is
// reported at startup instead of surfacing as a dead control socket.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Control socket from socket activation (sd_listen_fds).
public enum SocketActivation {
    /// Control socket from socket activation: the first fd passed by systemd
    /// (`sd_listen_fds(1)`, which also clears `LISTEN_*` from the environment), checked
    /// to be an AF_UNIX stream socket in listening state; nil when not socket-activated.
    ///
    /// Throws when descriptors were passed but are not usable, e.g.
    /// `sd_listen_fds(socket activation passed 2 descriptors; expected 1 AF_UNIX stream socket): Invalid argument`.
    /// The descriptor returned has `FD_CLOEXEC` set.
    public static func controlSocket() throws(SystemError) -> Int32? {
        try controlSocket(
            passedDescriptorCount: LibSystemd.listenDescriptorCount(),
            firstDescriptor: LibSystemd.firstListenDescriptor
        )
    }

    /// The checks behind `controlSocket()`, given sd_listen_fds's result and the
    /// first passed descriptor (3 in production; any descriptor in tests).
    static func controlSocket(passedDescriptorCount count: Int32, firstDescriptor descriptor: Int32) throws(SystemError) -> Int32? {
        if count < 0 {
            throw SystemError(call: "sd_listen_fds", subject: "socket activation", errno: -count)
        }
        if count == 0 { return nil }
        if count != 1 {
            throw SystemError(
                call: "sd_listen_fds",
                subject: "socket activation passed \(count) descriptors; expected 1 AF_UNIX stream socket",
                errno: EINVAL
            )
        }
        let check = LibSystemd.isListeningUnixStreamSocket(descriptor)
        if check < 0 {
            throw SystemError(call: "sd_is_socket_unix", subject: "socket activation descriptor \(descriptor)", errno: -check)
        }
        if check == 0 {
            throw SystemError(
                call: "sd_is_socket_unix",
                subject: "socket activation descriptor \(descriptor) is not a listening AF_UNIX stream socket",
                errno: EINVAL
            )
        }
        return descriptor
    }
}
