// SystemError.swift: the one error type for failed system calls, and the one helper
// through which every raw libc call goes.
//
// `systemCall` retries EINTR, traps on errnos that can only mean a bug in flowd
// (EBADF, EFAULT), and otherwise throws a SystemError naming the call and the errno.
// Callers decide whether the failure is fatal; library code never logs it.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A failed system call: which call, on what, and the errno it returned.
public struct SystemError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The libc function that failed, e.g. `rename`.
    public var call: String
    /// What the call was about (a path, a descriptor), when known.
    public var subject: String?
    /// The errno value.
    public var errno: Int32

    public init(call: String, subject: String? = nil, errno: Int32) {
        self.call = call
        self.subject = subject
        self.errno = errno
    }

    /// The C library's text for the errno, e.g. "No such file or directory".
    public var reason: String { String(cString: strerror(errno)) }

    public var description: String {
        if let subject { return "\(call)(\(subject)): \(reason)" }
        return "\(call): \(reason)"
    }
}

/// Runs a libc call that returns -1 and sets errno on failure. Retries on EINTR;
/// traps on EBADF and EFAULT (a programmer error); throws `SystemError` otherwise.
@discardableResult
@inline(__always)
public func systemCall<T: FixedWidthInteger>(
    _ call: String, _ subject: @autoclosure () -> String? = nil, _ body: () -> T
) throws(SystemError) -> T {
    while true {
        let result = body()
        if result != -1 { return result }
        let code = errno
        switch code {
        case EINTR:
            continue
        case EBADF, EFAULT:
            preconditionFailure("\(call) failed with \(String(cString: strerror(code))): a bug in flowd")
        default:
            throw SystemError(call: call, subject: subject(), errno: code)
        }
    }
}
