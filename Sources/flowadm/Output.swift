// Output.swift: how flowadm shows things to a person: tables, local times, durations,
// and colors only on a terminal (never with NO_COLOR).

import DaemonCore
#if canImport(Glibc)
import Glibc
#endif

enum Output {
    static let useColor: Bool = isatty(STDOUT_FILENO) != 0 && getenv("NO_COLOR") == nil
        && getenv("TERM").map { String(cString: $0) != "dumb" } ?? false

    /// A status word colored by outcome.
    static func status(_ text: String) -> String {
        guard useColor else { return text }
        let code: String
        switch text {
        case "succeeded": code = "32"
        case "failed", "timed_out": code = "31"
        case "running", "queued": code = "36"
        case "interrupted", "cancelled", "waiting", "paused": code = "33"
        default: return text
        }
        return "\u{1B}[\(code)m\(text)\u{1B}[0m"
    }

    /// An RFC 3339 UTC timestamp from the API shown in local time: "2026-11-22 05:01:02".
    static func localTime(_ value: JSONValue?) -> String {
        guard let text = value?.stringValue, let microseconds = WallClock.parseRFC3339(text) else { return "-" }
        var seconds = time_t(microseconds / 1_000_000)
        var parts = tm()
        localtime_r(&seconds, &parts)
        var buffer = [UInt8](repeating: 0, count: 32)
        let length = buffer.withUnsafeMutableBufferPointer { pointer in
            pointer.withMemoryRebound(to: CChar.self) { strftime($0.baseAddress, $0.count, "%Y-%m-%d %H:%M:%S", &parts) }
        }
        return String(decoding: buffer[..<length], as: UTF8.self)
    }

    static func duration(_ value: JSONValue?) -> String {
        guard let milliseconds = value?.intValue else { return "-" }
        return DurationText.format(.milliseconds(milliseconds))
    }

    /// Left-aligned columns separated by two spaces; the last column is not padded.
    /// On a terminal, tables are cut to its width: the widest plain columns shrink first
    /// (never below 8 characters), their cells ending in "…".
    static func table(_ header: [String], _ rows: [[String]], width: Int? = Terminal.outputColumns) -> String {
        var widths = header.map { visibleWidth($0) }
        var colored = Array(repeating: false, count: header.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], visibleWidth(cell))
                if cell.contains("\u{1B}") { colored[index] = true }
            }
        }
        if let width {
            var total = widths.reduce(0, +) + 2 * (widths.count - 1)
            while total > width {
                guard let widest = widths.indices.filter({ !colored[$0] && widths[$0] > 8 }).max(by: { widths[$0] < widths[$1] }) else { break }
                let cut = min(total - width, widths[widest] - 8)
                widths[widest] -= cut
                total -= cut
            }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                let fitted = visibleWidth(cell) > widths[index] ? clipped(cell, widths[index]) : cell
                return index == cells.count - 1 ? fitted : fitted + String(repeating: " ", count: widths[index] - visibleWidth(fitted))
            }.joined(separator: "  ")
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }

    /// Width on screen, ignoring color escapes.
    static func visibleWidth(_ text: String) -> Int {
        var width = 0
        var inEscape = false
        for character in text.unicodeScalars {
            if character == "\u{1B}" { inEscape = true; continue }
            if inEscape { if character == "m" { inEscape = false }; continue }
            width += 1
        }
        return width
    }

    /// Text cut to `limit` characters with an ellipsis.
    static func clipped(_ text: String, _ limit: Int) -> String {
        text.count <= limit ? text : String(text.prefix(limit - 1)) + "…"
    }
}
