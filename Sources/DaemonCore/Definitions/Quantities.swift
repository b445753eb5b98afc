// Quantities.swift: the textual units of definitions and configuration.
//
// Durations: "500ms", "10s", "5m", "2h", "1d", and sums of them ("1h30m").
// Sizes: "512", "64KiB", "1MiB", "1GiB" (binary units; a bare number is bytes).
// Parsers return nil on bad text; the caller reports the position and what was expected.

/// Parses flowd duration text.
public enum DurationText {
    private static let units: [(suffix: String, attoseconds: Duration)] = [
        ("ms", .milliseconds(1)), ("s", .seconds(1)), ("m", .seconds(60)),
        ("h", .seconds(3600)), ("d", .seconds(86400)),
    ]

    /// The duration `text` denotes, or nil. Zero is allowed; negative is not.
    public static func parse(_ text: String) -> Duration? {
        var remaining = Substring(text)
        var total = Duration.zero
        guard !remaining.isEmpty else { return nil }
        while !remaining.isEmpty {
            let digits = remaining.prefix(while: { $0.isASCII && $0.isNumber })
            guard !digits.isEmpty, digits.count <= 9, let amount = Int(digits) else { return nil }
            remaining = remaining.dropFirst(digits.count)
            guard let unit = units.first(where: { remaining.hasPrefix($0.suffix) && !(($0.suffix == "m") && remaining.hasPrefix("ms")) })
            else { return nil }
            remaining = remaining.dropFirst(unit.suffix.count)
            total += unit.attoseconds * amount
        }
        return total
    }

    /// Short human text for a duration: "1.2s", "350ms", "2h3m".
    public static func format(_ duration: Duration) -> String {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        if milliseconds < 1000 { return "\(milliseconds)ms" }
        if milliseconds < 60_000 {
            let tenths = milliseconds / 100
            return tenths % 10 == 0 ? "\(tenths / 10)s" : "\(tenths / 10).\(tenths % 10)s"
        }
        let seconds = milliseconds / 1000
        if seconds < 3600 { return seconds % 60 == 0 ? "\(seconds / 60)m" : "\(seconds / 60)m\(seconds % 60)s" }
        let minutes = seconds / 60
        if minutes < 1440 { return minutes % 60 == 0 ? "\(minutes / 60)h" : "\(minutes / 60)h\(minutes % 60)m" }
        return "\(minutes / 1440)d\((minutes % 1440) / 60)h"
    }
}

/// Parses flowd size text.
public enum SizeText {
    private static let units: [(suffix: String, factor: Int)] = [
        ("KiB", 1024), ("MiB", 1024 * 1024), ("GiB", 1024 * 1024 * 1024), ("B", 1),
    ]

    /// The byte count `text` denotes, or nil.
    public static func parse(_ text: String) -> Int? {
        let digits = text.prefix(while: { $0.isASCII && $0.isNumber })
        guard !digits.isEmpty, digits.count <= 12, let amount = Int(digits) else { return nil }
        let suffix = text.dropFirst(digits.count)
        if suffix.isEmpty { return amount }
        guard let unit = units.first(where: { $0.suffix == suffix }) else { return nil }
        return amount * unit.factor
    }
}
