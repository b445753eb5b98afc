// FileSystem.swift: the file operations flowd performs on the spool and state dirs.
//
// All raw calls go through systemCall (EINTR retried, errors name the call and path).
// Opening a file the user controls never follows a symlink and never blocks on a FIFO
// (O_NOFOLLOW | O_NONBLOCK), and its type is checked with fstat on the open descriptor,
// so nothing can be swapped in between the check and the read.

#if canImport(Glibc)
import Glibc
#endif
import CFlowdShim

/// What lstat says a directory entry is.
public enum FileKind: Sendable, Equatable {
    case regular, directory, symbolicLink, fifo, socket, characterDevice, blockDevice, unknown

    init(mode: mode_t) {
        switch mode & S_IFMT {
        case S_IFREG: self = .regular
        case S_IFDIR: self = .directory
        case S_IFLNK: self = .symbolicLink
        case S_IFIFO: self = .fifo
        case S_IFSOCK: self = .socket
        case S_IFCHR: self = .characterDevice
        case S_IFBLK: self = .blockDevice
        default: self = .unknown
        }
    }

    /// "a symlink", "a FIFO", ... for reasons shown to the sysadmin.
    public var phrase: String {
        switch self {
        case .regular: "a regular file"
        case .directory: "a directory"
        case .symbolicLink: "a symlink"
        case .fifo: "a FIFO"
        case .socket: "a socket"
        case .characterDevice: "a character device"
        case .blockDevice: "a block device"
        case .unknown: "not a regular file"
        }
    }
}

/// The lstat facts flowd uses.
public struct FileStatus: Sendable {
    public var kind: FileKind
    public var size: Int
    public var ownerUID: UInt32
    /// Permission bits (and setuid/setgid/sticky).
    public var mode: UInt32
    public var modificationTime: Double
    /// Device, inode, size and mtime in nanoseconds: equal stamps mean an unchanged file.
    public var stamp: [Int64]
}

public enum FileSystem {
    /// lstat(2): never follows a symlink.
    public static func status(_ path: String) throws(SystemError) -> FileStatus {
        var info = stat()
        try systemCall("lstat", path) { lstat(path, &info) }
        return FileStatus(kind: FileKind(mode: info.st_mode), size: Int(info.st_size), ownerUID: info.st_uid,
                          mode: UInt32(info.st_mode) & 0o7777, modificationTime: Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9,
                          stamp: [Int64(bitPattern: UInt64(info.st_dev)), Int64(bitPattern: UInt64(info.st_ino)), Int64(info.st_size),
                                  Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)])
    }

    /// The names in `directory` except "." and "..", unsorted.
    public static func entries(_ directory: String) throws(SystemError) -> [String] {
        guard let handle = opendir(directory) else { throw SystemError(call: "opendir", subject: directory, errno: errno) }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// mkdir -p with `mode` for the directories it creates.
    public static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws(SystemError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, mode) != 0 && errno != EEXIST {
                throw SystemError(call: "mkdir", subject: prefix, errno: errno)
            }
        }
    }

    /// Renames `source` to `destination`, failing with EEXIST rather than replacing a file.
    public static func renameWithoutReplacing(_ source: String, _ destination: String) throws(SystemError) {
        try systemCall("renameat2", "\(source) -> \(destination)") {
            flowd_rename_noreplace(source, destination)
        }
    }

    /// Reads a regular file of at most `maxBytes`, without following a symlink or
    /// blocking on a FIFO. Throws SystemError with EFBIG when the file is larger,
    /// EINVAL (subject names the kind) when it is not a regular file.
    public static func readRegularFile(_ path: String, maxBytes: Int) throws(SystemError) -> [UInt8] {
        let descriptor = try systemCall("open", path) { open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC) }
        defer { close(descriptor) }
        var info = stat()
        try systemCall("fstat", path) { fstat(descriptor, &info) }
        guard FileKind(mode: info.st_mode) == .regular else {
            throw SystemError(call: "open", subject: "\(path) is \(FileKind(mode: info.st_mode).phrase)", errno: EINVAL)
        }
        guard Int(info.st_size) <= maxBytes else { throw SystemError(call: "read", subject: path, errno: EFBIG) }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size) + 1)
        var filled = 0
        while filled < bytes.count {
            let count = try systemCall("read", path) {
                bytes.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + filled, $0.count - filled) }
            }
            if count == 0 { break }
            filled += count
            guard filled <= maxBytes else { throw SystemError(call: "read", subject: path, errno: EFBIG) }
        }
        return Array(bytes[..<filled])
    }

    /// Writes `bytes` to a new file at `path` (mode 0644), replacing nothing: fails if it exists.
    public static func createFile(_ path: String, contents bytes: [UInt8], mode: mode_t = 0o644) throws(SystemError) {
        let descriptor = try systemCall("open", path) { open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode) }
        defer { close(descriptor) }
        var written = 0
        while written < bytes.count {
            let count = try systemCall("write", path) {
                bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + written, $0.count - written) }
            }
            written += count
        }
    }

    /// unlink(2); a file already gone is not an error.
    public static func removeFile(_ path: String) throws(SystemError) {
        if unlink(path) != 0 && errno != ENOENT { throw SystemError(call: "unlink", subject: path, errno: errno) }
    }
}
