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

    /// "2026-11-22T04:40:01.123456Z", written digit by digit into one 27-byte buffer.
    /// Years outside 0...9999 and instants before the epoch keep the layout the
    /// original String-based formatter had (see rfc3339Padded).
    public static func rfc3339(microseconds: Int64) -> String {
        var seconds = time_t(microseconds / 1_000_000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let fraction = microseconds % 1_000_000
        let year = Int(parts.tm_year) + 1900
        guard (0...9999).contains(year), fraction >= 0 else { return rfc3339Padded(parts, fraction: fraction) }
        return String(unsafeUninitializedCapacity: 27) { buffer in
            func put(_ value: Int, width: Int, at offset: Int) {
                var value = value
                for position in stride(from: offset + width - 1, through: offset, by: -1) {
                    buffer[position] = UInt8(ascii: "0") + UInt8(value % 10)
                    value /= 10
                }
            }
            put(year, width: 4, at: 0)
            buffer[4] = UInt8(ascii: "-")
            put(Int(parts.tm_mon) + 1, width: 2, at: 5)
            buffer[7] = UInt8(ascii: "-")
            put(Int(parts.tm_mday), width: 2, at: 8)
            buffer[10] = UInt8(ascii: "T")
            put(Int(parts.tm_hour), width: 2, at: 11)
            buffer[13] = UInt8(ascii: ":")
            put(Int(parts.tm_min), width: 2, at: 14)
            buffer[16] = UInt8(ascii: ":")
            put(Int(parts.tm_sec), width: 2, at: 17)
            buffer[19] = UInt8(ascii: ".")
            put(Int(fraction), width: 6, at: 20)
            buffer[26] = UInt8(ascii: "Z")
            return 27
        }
    }

    /// The general (slow) layout: zero-padded fields, a fraction as its decimal text
    /// padded to 6 places.
    private static func rfc3339Padded(_ parts: tm, fraction: Int64) -> String {
        let fraction = String(fraction)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))."
            + String(repeating: "0", count: max(0, 6 - fraction.count)) + fraction + "Z"
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
