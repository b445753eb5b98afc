// RunAs.swift: `user:` and `group:` of run steps.
//
// posix_spawn cannot change credentials, so when flowd runs as root a step with
// user/group runs under util-linux's setpriv(1): `setpriv --reuid=U --regid=G
// --init-groups -- COMMAND` (the user's own groups), or `--regid=G --clear-groups` for a
// group alone. Names are resolved first (getpwnam_r/getgrnam_r; numbers are taken as
// ids), so a typo is a clear step error, not a setpriv message. HOME, USER and LOGNAME
// follow the user.

#if canImport(Glibc)
import Glibc
#endif

/// The identity a step runs as.
struct RunAs: Sendable {
    var uid: UInt32?
    var gid: UInt32
    var userName: String?
    var home: String?

    static let setprivPath = "/usr/bin/setpriv"

    /// Resolves `user`/`group`; throws a message for the sysadmin.
    static func resolve(user: String?, group: String?) throws(RunAsError) -> RunAs {
        guard geteuid() == 0 else {
            throw RunAsError(message: "user:/group: need flowd to run as root (it runs as uid \(geteuid()))")
        }
        guard access(setprivPath, X_OK) == 0 else {
            throw RunAsError(message: "user:/group: need \(setprivPath) (Debian package util-linux)")
        }
        var identity = RunAs(uid: nil, gid: 0)
        if let user {
            guard let entry = lookUpUser(user) else { throw RunAsError(message: "user: no user \"\(user)\" on this host") }
            identity.uid = entry.uid
            identity.gid = entry.gid
            identity.userName = entry.name
            identity.home = entry.home
        }
        if let group {
            guard let gid = lookUpGroup(group) else { throw RunAsError(message: "group: no group \"\(group)\" on this host") }
            identity.gid = gid
        }
        return identity
    }

    /// Wraps `spec` so that it runs as this identity.
    func wrap(_ spec: inout ProcessSpec) {
        var arguments: [String]
        if let uid {
            arguments = ["--reuid=\(uid)", "--regid=\(gid)", "--init-groups"]
        } else {
            arguments = ["--regid=\(gid)", "--clear-groups"]
        }
        arguments += ["--", spec.executable] + spec.arguments
        spec.executable = Self.setprivPath
        spec.arguments = arguments
        if let userName {
            spec.environment["USER"] = userName
            spec.environment["LOGNAME"] = userName
        }
        if let home { spec.environment["HOME"] = home }
    }

    private static func lookUpUser(_ name: String) -> (uid: UInt32, gid: UInt32, name: String, home: String)? {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16 * 1024)
        let status = UInt32(name).map { getpwuid_r($0, &entry, &buffer, buffer.count, &result) }
            ?? getpwnam_r(name, &entry, &buffer, buffer.count, &result)
        guard status == 0, result != nil else { return nil }
        return (entry.pw_uid, entry.pw_gid, String(cString: entry.pw_name), String(cString: entry.pw_dir))
    }

    private static func lookUpGroup(_ name: String) -> UInt32? {
        if let number = UInt32(name) { return number }
        return ControlAuthorizer.groupID(named: name)
    }
}

struct RunAsError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
