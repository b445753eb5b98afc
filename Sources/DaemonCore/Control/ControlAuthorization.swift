// ControlAuthorization.swift: who may do what on the control socket (SPEC section 8).
//
// From the peer's SO_PEERCRED credentials and its groups (primary and supplementary,
// read from /proc at connect time): uid 0, the daemon's own uid (flowd --root run by a
// developer) and members of `admin_group` may do everything; members of `read_group`
// may read; everyone else is refused. Per-workflow `owners` come with the engine verbs
// they apply to (trigger, pause, resume, replay, cancel, approve).

#if canImport(Glibc)
import Glibc
#endif

/// What a caller may do.
enum ControlAccess: Int, Comparable, Sendable {
    case none = 0, read, admin

    static func < (left: ControlAccess, right: ControlAccess) -> Bool { left.rawValue < right.rawValue }
}

/// Decides a peer's access from the configured group names.
struct ControlAuthorizer: Sendable {
    let adminGroupID: UInt32?
    let readGroupID: UInt32?
    let daemonUID: UInt32

    init(adminGroup: String, readGroup: String?) {
        adminGroupID = Self.groupID(named: adminGroup)
        readGroupID = readGroup.flatMap(Self.groupID(named:))
        daemonUID = getuid()
    }

    func access(for peer: PeerCredentials) -> ControlAccess {
        if peer.uid == 0 || peer.uid == daemonUID { return .admin }
        let groups = Set([peer.gid] + peer.supplementaryGroups)
        if let adminGroupID, groups.contains(adminGroupID) { return .admin }
        if let readGroupID, groups.contains(readGroupID) { return .read }
        return .none
    }

    /// True when the peer belongs to one of the workflow's `owners` groups.
    func isOwner(_ peer: PeerCredentials, owners: [String]) -> Bool {
        let groups = Set([peer.gid] + peer.supplementaryGroups)
        return owners.contains { name in Self.groupID(named: name).map(groups.contains) ?? false }
    }

    /// The gid of group `name`, or nil when there is no such group.
    static func groupID(named name: String) -> UInt32? {
        var group = group()
        var result: UnsafeMutablePointer<group>?
        var buffer = [CChar](repeating: 0, count: 16 * 1024)
        let status = getgrnam_r(name, &group, &buffer, buffer.count, &result)
        guard status == 0, result != nil else { return nil }
        return group.gr_gid
    }
}
