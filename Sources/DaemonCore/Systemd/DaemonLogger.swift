// DaemonLogger.swift: the daemon's one logger. Entries go to journald as structured
// entries (sd_journal_sendv, SPEC section 6) and/or to stderr as one line each.
//
// Logging never throws and never stops the daemon: when journald refuses an entry
// (absent, restarting, full) that entry is written to stderr instead; when stderr
// cannot be written (closed pipe, non-blocking and full) the line is dropped. A bad
// field name is a programmer error and traps. Library code returns errors and the
// caller logs them once, here.

import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The daemon's one logger: journald (structured, via sd_journal_sendv) and/or stderr.
public final class DaemonLogger: Sendable {
    /// Where entries go.
    public enum Destination: Sendable {
        /// journald only (stderr only for entries journald refuses).
        case journald
        /// stderr only.
        case standardError
        /// journald and stderr.
        case both
        /// journald when its socket exists, plus stderr unless stderr already is the
        /// journal; stderr alone when journald is absent.
        case automatic
    }

    /// Where journald listens for native-protocol entries.
    static let defaultJournalSocketPath = "/run/systemd/journal/socket"

    /// Field names the logger sets itself; callers may not pass them in `fields`.
    static let reservedFieldNames: Set<String> = [
        "MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "MESSAGE_ID", "CODE_FILE", "CODE_LINE", "CODE_FUNC",
    ]

    /// SYSLOG_IDENTIFIER and the stderr line prefix.
    let identifier: String
    /// Whether entries are sent to journald.
    let sendsToJournal: Bool
    /// Whether every entry is also written to stderr (not only journald's refusals).
    let writesToStandardError: Bool
    /// journald's socket; an entry is only offered to journald while it exists.
    let journalSocketPath: String
    /// The descriptor stderr lines are written to (2, except in tests).
    let standardErrorDescriptor: Int32
    /// Sends one entry's `NAME=value` fields; returns 0 or a negative errno.
    let journalTransport: @Sendable ([String]) -> Int32
    /// The least severe level that is kept. Guarded by its own mutex.
    private let minimumLevelState: Mutex<LogLevel>
    /// Held while writing one stderr line, so that lines from threads never interleave.
    private let standardErrorLock = Mutex<Void>(())

    /// automatic: journald when /run/systemd/journal/socket exists; stderr too unless
    /// stderr is already the journal (JOURNAL_STREAM matches fstat of fd 2); stderr
    /// alone when journald is absent.
    public convenience init(identifier: String = "flowd", minimumLevel: LogLevel = .info, destination: Destination = .automatic) {
        self.init(
            identifier: identifier,
            minimumLevel: minimumLevel,
            destination: destination,
            journalSocketPath: Self.defaultJournalSocketPath,
            standardErrorDescriptor: STDERR_FILENO,
            journalStream: getenv("JOURNAL_STREAM").map { String(cString: $0) },
            journalTransport: { LibSystemd.journalSend($0) }
        )
    }

    /// The full initializer, with every outside dependency injectable for tests.
    init(
        identifier: String,
        minimumLevel: LogLevel,
        destination: Destination,
        journalSocketPath: String,
        standardErrorDescriptor: Int32,
        journalStream: String?,
        journalTransport: @escaping @Sendable ([String]) -> Int32
    ) {
        precondition(!identifier.isEmpty && !identifier.contains(where: \.isNewline), "invalid log identifier \(identifier)")
        self.identifier = identifier
        self.journalSocketPath = journalSocketPath
        self.standardErrorDescriptor = standardErrorDescriptor
        self.journalTransport = journalTransport
        self.minimumLevelState = Mutex(minimumLevel)
        let routing = Self.routing(
            for: destination,
            journalPresent: Self.fileExists(journalSocketPath),
            standardErrorIsJournal: Self.descriptor(standardErrorDescriptor, matchesJournalStream: journalStream)
        )
        self.sendsToJournal = routing.journal
        self.writesToStandardError = routing.standardError
    }

    /// The least severe level currently kept.
    public var minimumLevel: LogLevel {
        minimumLevelState.withLock { $0 }
    }

    /// Changes the least severe level kept (e.g. after a reload of flowd.yaml). Thread-safe.
    public func setMinimumLevel(_ level: LogLevel) {
        minimumLevelState.withLock { $0 = level }
    }

    /// fields: extra journald fields like ["FLOWD_RUN": "42", "FLOWD_WORKFLOW": "hello"]
    /// (names uppercase A-Z0-9_, not starting with a digit or `_`). Adds MESSAGE,
    /// PRIORITY, SYSLOG_IDENTIFIER, MESSAGE_ID (when given), CODE_FILE, CODE_LINE,
    /// CODE_FUNC. stderr line format: "flowd: <level>: <message> [key=value ...]"
    /// (FLOWD_* fields only, lowercased without the FLOWD_ prefix, sorted, e.g.
    /// "run=42 workflow=hello"). Never throws; if journald refuses, falls back to
    /// stderr for that entry.
    public func log(
        _ level: LogLevel, _ message: String, id: MessageID? = nil, fields: [String: String] = [:],
        file: String = #fileID, line: Int = #line, function: String = #function
    ) {
        for name in fields.keys {
            precondition(Self.isValidFieldName(name), "invalid journald field name \(name): use A-Z, 0-9 and _")
            precondition(!Self.reservedFieldNames.contains(name), "journald field \(name) is set by DaemonLogger itself")
        }
        guard level >= minimumLevel else { return }
        var journaled = false
        if sendsToJournal, Self.fileExists(journalSocketPath) {
            let entry = Self.journalFields(
                level, message, id: id, fields: fields, identifier: identifier, file: file, line: line, function: function)
            journaled = journalTransport(entry) >= 0
        }
        if writesToStandardError || !journaled {
            writeStandardError(Self.standardErrorBytes(level, message, fields: fields, identifier: identifier))
        }
    }

    // MARK: - Convenience

    /// Logs at `.debug`.
    public func debug(_ message: String, id: MessageID? = nil, fields: [String: String] = [:],
                      file: String = #fileID, line: Int = #line, function: String = #function) {
        log(.debug, message, id: id, fields: fields, file: file, line: line, function: function)
    }

    /// Logs at `.info`.
    public func info(_ message: String, id: MessageID? = nil, fields: [String: String] = [:],
                     file: String = #fileID, line: Int = #line, function: String = #function) {
        log(.info, message, id: id, fields: fields, file: file, line: line, function: function)
    }

    /// Logs at `.notice`.
    public func notice(_ message: String, id: MessageID? = nil, fields: [String: String] = [:],
                       file: String = #fileID, line: Int = #line, function: String = #function) {
        log(.notice, message, id: id, fields: fields, file: file, line: line, function: function)
    }

    /// Logs at `.warning`.
    public func warning(_ message: String, id: MessageID? = nil, fields: [String: String] = [:],
                        file: String = #fileID, line: Int = #line, function: String = #function) {
        log(.warning, message, id: id, fields: fields, file: file, line: line, function: function)
    }

    /// Logs at `.error`.
    public func error(_ message: String, id: MessageID? = nil, fields: [String: String] = [:],
                      file: String = #fileID, line: Int = #line, function: String = #function) {
        log(.error, message, id: id, fields: fields, file: file, line: line, function: function)
    }

    /// Logs at `.critical`.
    public func critical(_ message: String, id: MessageID? = nil, fields: [String: String] = [:],
                         file: String = #fileID, line: Int = #line, function: String = #function) {
        log(.critical, message, id: id, fields: fields, file: file, line: line, function: function)
    }

    // MARK: - Formatting (pure, tested directly)

    /// Which outputs a destination resolves to on this host.
    static func routing(
        for destination: Destination, journalPresent: Bool, standardErrorIsJournal: Bool
    ) -> (journal: Bool, standardError: Bool) {
        switch destination {
        case .journald: return (true, false)
        case .standardError: return (false, true)
        case .both: return (true, true)
        case .automatic: return journalPresent ? (true, !standardErrorIsJournal) : (false, true)
        }
    }

    /// The `NAME=value` fields of one journald entry.
    static func journalFields(
        _ level: LogLevel, _ message: String, id: MessageID?, fields: [String: String],
        identifier: String, file: String, line: Int, function: String
    ) -> [String] {
        var entry = ["MESSAGE=\(message)", "PRIORITY=\(level.rawValue)", "SYSLOG_IDENTIFIER=\(identifier)"]
        if let id { entry.append("MESSAGE_ID=\(id.id128)") }
        entry += ["CODE_FILE=\(file)", "CODE_LINE=\(line)", "CODE_FUNC=\(function)"]
        entry += fields.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        return entry
    }

    /// One stderr line, newline included: `flowd: warning: message run=42 workflow=hello`.
    /// Newlines in the message are escaped as `\n`; values with spaces, quotes or
    /// nothing in them are double-quoted.
    static func standardErrorLine(_ level: LogLevel, _ message: String, fields: [String: String], identifier: String) -> String {
        String(decoding: standardErrorBytes(level, message, fields: fields, identifier: identifier), as: UTF8.self)
    }

    /// `standardErrorLine` as UTF-8 bytes, built in one buffer: ASCII text is copied
    /// byte by byte; only text with non-ASCII bytes takes the Character-level path.
    static func standardErrorBytes(_ level: LogLevel, _ message: String, fields: [String: String], identifier: String) -> [UInt8] {
        var line: [UInt8] = []
        line.reserveCapacity(identifier.utf8.count + message.utf8.count + 16 + fields.count * 24)
        line.append(contentsOf: identifier.utf8)
        line.append(contentsOf: ": ".utf8)
        line.append(contentsOf: level.name.utf8)
        line.append(contentsOf: ": ".utf8)
        appendEscapingNewlines(message, to: &line)
        let prefixLength = 6  // "FLOWD_"
        for (name, value) in fields.sorted(by: { $0.key < $1.key })
        where name.utf8.count > prefixLength && name.utf8.starts(with: "FLOWD_".utf8) {
            line.append(UInt8(ascii: " "))
            // Field names are A-Z, 0-9 and _ (checked in log): lowercasing is per byte.
            for byte in name.utf8.dropFirst(prefixLength) {
                line.append((UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte + 32 : byte)
            }
            line.append(UInt8(ascii: "="))
            appendQuotedIfNeeded(value, to: &line)
        }
        line.append(UInt8(ascii: "\n"))
        return line
    }

    /// True for journald-acceptable field names: 1-64 of A-Z, 0-9, _, not starting
    /// with a digit or `_` (leading `_` marks fields only journald may set).
    static func isValidFieldName(_ name: String) -> Bool {
        guard let first = name.utf8.first, name.utf8.count <= 64 else { return false }
        guard first != UInt8(ascii: "_"), !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else { return false }
        return name.utf8.allSatisfy { byte in
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_")
        }
    }

    /// Line feed, vertical tab, form feed, carriage return: the ASCII characters
    /// `Character.isNewline` is true for.
    private static func isASCIINewline(_ byte: UInt8) -> Bool {
        byte >= 0x0A && byte <= 0x0D
    }

    /// Appends `text` with each newline (CR LF counts as one) written as `\n`.
    private static func appendEscapingNewlines(_ text: String, to line: inout [UInt8]) {
        guard text.utf8.allSatisfy({ $0 < 0x80 }) else {
            // Non-ASCII: Unicode newlines (U+0085, U+2028, ...) and grapheme clusters.
            guard text.contains(where: \.isNewline) else { return line.append(contentsOf: text.utf8) }
            for character in text {
                if character.isNewline { line.append(contentsOf: "\\n".utf8) } else { line.append(contentsOf: character.utf8) }
            }
            return
        }
        var previous: UInt8 = 0
        for byte in text.utf8 {
            if isASCIINewline(byte) {
                // CR LF is one Character, so one `\n`.
                if !(byte == 0x0A && previous == 0x0D) { line.append(contentsOf: "\\n".utf8) }
            } else {
                line.append(byte)
            }
            previous = byte
        }
    }

    /// Appends `value`, double-quoted (with `\\`, `\"` and `\n` escapes) when it is
    /// empty or holds whitespace or a quote.
    private static func appendQuotedIfNeeded(_ value: String, to line: inout [UInt8]) {
        guard value.utf8.allSatisfy({ $0 < 0x80 }) else { return appendQuotedIfNeeded(unicode: value, to: &line) }
        let needsQuotes = value.isEmpty || value.utf8.contains { $0 == 0x20 || $0 == 0x09 || isASCIINewline($0) || $0 == 0x22 }
        guard needsQuotes else { return line.append(contentsOf: value.utf8) }
        line.append(0x22)
        var previous: UInt8 = 0
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\\"): line.append(contentsOf: "\\\\".utf8)
            case 0x22: line.append(contentsOf: "\\\"".utf8)
            case _ where isASCIINewline(byte):
                if !(byte == 0x0A && previous == 0x0D) { line.append(contentsOf: "\\n".utf8) }
            default: line.append(byte)
            }
            previous = byte
        }
        line.append(0x22)
    }

    /// `appendQuotedIfNeeded` for text with non-ASCII characters, by Character.
    private static func appendQuotedIfNeeded(unicode value: String, to line: inout [UInt8]) {
        let needsQuotes = value.contains { $0.isWhitespace || $0 == "\"" }
        guard needsQuotes else { return line.append(contentsOf: value.utf8) }
        line.append(0x22)
        for character in value {
            switch character {
            case "\\": line.append(contentsOf: "\\\\".utf8)
            case "\"": line.append(contentsOf: "\\\"".utf8)
            case _ where character.isNewline: line.append(contentsOf: "\\n".utf8)
            default: line.append(contentsOf: character.utf8)
            }
        }
        line.append(0x22)
    }

    // MARK: - System

    /// Writes the whole line to stderr under `standardErrorLock`; drops it on error.
    private func writeStandardError(_ bytes: [UInt8]) {
        standardErrorLock.withLock { _ in
            var written = 0
            while written < bytes.count {
                let result = bytes.withUnsafeBytes { buffer in
                    try? systemCall("write", "standard error") {
                        write(standardErrorDescriptor, buffer.baseAddress! + written, buffer.count - written)
                    }
                }
                guard let result, result > 0 else { return }
                written += result
            }
        }
    }

    /// Whether a file exists at `path` (journald's socket).
    static func fileExists(_ path: String) -> Bool {
        (try? systemCall("access", path) { access(path, F_OK) }) != nil
    }

    /// Whether `descriptor` is the stream journald gave us: JOURNAL_STREAM is
    /// "<device>:<inode>" of that stream, compared with fstat of the descriptor.
    static func descriptor(_ descriptor: Int32, matchesJournalStream journalStream: String?) -> Bool {
        guard let journalStream else { return false }
        let parts = journalStream.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var status = stat()
        guard (try? systemCall("fstat", "descriptor \(descriptor)") { fstat(descriptor, &status) }) != nil else {
            return false
        }
        return UInt64(status.st_dev) == device && UInt64(status.st_ino) == inode
    }
}
