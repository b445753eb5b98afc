// YAMLParser.swift: the entry point of the YAML layer.
//
// Parses one YAML document from bytes, text or a file into a YAMLNode tree, within
// YAMLLimits. Every failure, from an unreadable file to a duplicate key, is a
// YAMLError at a position: file problems (missing, not a regular file, too large) are
// reported at line 1 column 1 of the file. See YAMLTreeBuilder for what the tree
// checks and YAMLEventReader for the libyaml side.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Parses YAML 1.2 (core schema) documents with libyaml.
public enum YAMLParser {
    /// The single document of `bytes`, or nil when the input holds no document (empty
    /// or only comments). `file` names the input in positions.
    public static func parse(
        _ bytes: [UInt8], file: String, limits: YAMLLimits = .default
    ) throws(YAMLError) -> YAMLNode? {
        guard bytes.count <= limits.maxBytes else {
            throw YAMLError(
                location: SourceLocation(file: file, line: 1, column: 1),
                message: "the input is \(bytes.count) bytes, over the limit of \(limits.maxBytes) bytes")
        }
        var builder = YAMLTreeBuilder(reader: YAMLEventReader(bytes: bytes, file: file), limits: limits)
        return try builder.buildDocument()
    }

    /// The single document of `text`, or nil when it holds no document.
    public static func parse(
        _ text: String, file: String, limits: YAMLLimits = .default
    ) throws(YAMLError) -> YAMLNode? {
        try parse(Array(text.utf8), file: file, limits: limits)
    }

    /// Reads the file at `path` and parses it. Refuses non-regular files and files over
    /// `limits.maxBytes` with a YAMLError at line 1 column 1; positions name `path`.
    public static func parseFile(
        atPath path: String, limits: YAMLLimits = .default
    ) throws(YAMLError) -> YAMLNode? {
        let bytes = try readRegularFile(atPath: path, maxBytes: limits.maxBytes)
        return try parse(bytes, file: path, limits: limits)
    }

    /// `parseFile`, also giving the bytes it parsed (the definition store journals
    /// them as the definition's source without reading the file a second time).
    public static func parseFileKeepingBytes(
        atPath path: String, limits: YAMLLimits = .default
    ) throws(YAMLError) -> (root: YAMLNode?, bytes: [UInt8]) {
        let bytes = try readRegularFile(atPath: path, maxBytes: limits.maxBytes)
        return (try parse(bytes, file: path, limits: limits), bytes)
    }

    /// The contents of a regular file of at most `maxBytes` bytes.
    private static func readRegularFile(atPath path: String, maxBytes: Int) throws(YAMLError) -> [UInt8] {
        func failure(_ message: String) -> YAMLError {
            YAMLError(location: SourceLocation(file: path, line: 1, column: 1), message: message)
        }
        // O_NONBLOCK so that opening a FIFO cannot hang us before fstat refuses it.
        let descriptor: Int32
        do {
            descriptor = try systemCall("open", path) { open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK) }
        } catch {
            throw failure("cannot open the file: \(error.reason)")
        }
        // Not through systemCall: retrying close after EINTR would close a reused descriptor.
        defer { _ = close(descriptor) }

        var status = stat()
        do {
            try systemCall("fstat", path) { fstat(descriptor, &status) }
        } catch {
            throw failure("cannot inspect the file: \(error.reason)")
        }
        guard status.st_mode & S_IFMT == S_IFREG else { throw failure("not a regular file") }
        guard Int(status.st_size) <= maxBytes else {
            throw failure("the file is \(status.st_size) bytes, over the limit of \(maxBytes) bytes")
        }

        // Read to the end rather than trusting st_size: the file may be growing.
        var contents: [UInt8] = []
        contents.reserveCapacity(Int(status.st_size))
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count: Int
            do {
                count = try systemCall("read", path) {
                    chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                }
            } catch {
                throw failure("cannot read the file: \(error.reason)")
            }
            if count == 0 { return contents }
            contents += chunk[..<count]
            guard contents.count <= maxBytes else {
                throw failure("the file is over the limit of \(maxBytes) bytes")
            }
        }
    }
}
