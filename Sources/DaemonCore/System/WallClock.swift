// WallClock.swift: wall-clock timestamps as the journal stores them.
//
// The journal keeps microseconds since the Unix epoch (UTC) in INTEGER columns; the
// control API shows them as RFC 3339 UTC text with microseconds. Deadlines and
// durations inside the daemon use ContinuousClock instead, which never jumps.

#if canImport(Glibc)
import Glibc
#endif

public enum WallClock {
    /// Microseconds since the epoch, now.
    public static func nowMicroseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000
    }

    /// "2026-11-22T04:40:01.123456Z".
    public static func rfc3339(microseconds: Int64) -> String {
        var seconds = time_t(microseconds / 1_000_000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let fraction = String(microseconds % 1_000_000)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))."
            + String(repeating: "0", count: 6 - fraction.count) + fraction + "Z"
    }

    /// Parses the output of `rfc3339(microseconds:)` (and the same without a fraction).
    public static func parseRFC3339(_ text: String) -> Int64? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes.last == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int32? { Int32(String(decoding: bytes[range], as: UTF8.self)) }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19) else { return nil }
        var parts = tm()
        parts.tm_year = year - 1900; parts.tm_mon = month - 1; parts.tm_mday = day
        parts.tm_hour = hour; parts.tm_min = minute; parts.tm_sec = second
        var microseconds: Int64 = 0
        if bytes.count > 21, bytes[19] == UInt8(ascii: ".") {
            let digits = String(decoding: bytes[20..<(bytes.count - 1)], as: UTF8.self)
            guard let value = Int64(digits), digits.count <= 6 else { return nil }
            microseconds = value * Int64([1, 100_000, 10_000, 1000, 100, 10, 1][digits.count])
        }
        return Int64(timegm(&parts)) * 1_000_000 + microseconds
    }
}
