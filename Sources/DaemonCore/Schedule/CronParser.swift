// CronParser.swift: schedule text to fields, zone and canonical text.
//
// Grammar: [TZ=zone | CRON_TZ=zone] then one macro (@hourly ...) or five fields separated
// by blanks. A field is a comma list of `*`, `a`, `a-b`, `*/n`, `a-b/n` or `a/n`
// (= a-max/n, as cronie has it); months and weekdays also take three-letter English
// names, any case. Every problem is a CronError naming the field, the offending text
// and its 0-based character offset; parsing stops at the first one.

import Foundation

/// The five fields of a cron line, in order.
enum CronFieldKind: Int, CaseIterable {
    case minute, hour, dayOfMonth, month, dayOfWeek

    /// The name used in error messages.
    var name: String {
        switch self {
        case .minute: "minute"
        case .hour: "hour"
        case .dayOfMonth: "day of month"
        case .month: "month"
        case .dayOfWeek: "day of week"
        }
    }

    /// The values the field accepts (7 is a second Sunday in day of week).
    var range: ClosedRange<Int> {
        switch self {
        case .minute: 0...59
        case .hour: 0...23
        case .dayOfMonth: 1...31
        case .month: 1...12
        case .dayOfWeek: 0...7
        }
    }

    /// Names accepted in place of numbers, with their values.
    var names: [String: Int] {
        switch self {
        case .month:
            ["JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6,
             "JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12]
        case .dayOfWeek:
            ["SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6]
        default:
            [:]
        }
    }

    /// What a value of this field may be, for "expected ..." messages.
    var expectation: String {
        switch self {
        case .month: "a number 1-12, a month name or '*'"
        case .dayOfWeek: "a number 0-7, a day name or '*'"
        default: "a number \(range.lowerBound)-\(range.upperBound) or '*'"
        }
    }
}

/// A parsed schedule before it becomes a `CronSchedule`.
struct ParsedCron {
    var timeZoneIdentifier: String?
    var timeZone: TimeZone?
    var fields: CronFields
    /// The five fields in canonical form, without the zone prefix.
    var canonicalFields: String
}

/// Parses one schedule text. Offsets count Characters from the start of the text.
struct CronParser {
    static let macros: [String: String] = [
        "@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
        "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *",
    ]

    /// A blank-separated word of the text and where it starts.
    struct Word {
        var text: Substring
        var offset: Int
    }

    static func parse(_ text: String) throws(CronError) -> ParsedCron {
        var words = split(text)
        var timeZoneIdentifier: String?
        var timeZone: TimeZone?
        if let first = words.first, let prefix = ["TZ=", "CRON_TZ="].first(where: { first.text.hasPrefix($0) }) {
            let identifier = String(first.text.dropFirst(prefix.count))
            let identifierOffset = first.offset + prefix.count
            guard !identifier.isEmpty else {
                throw CronError(offset: identifierOffset, message: "missing time zone name after \(prefix)")
            }
            guard let zone = TimeZone(identifier: identifier) else {
                throw CronError(offset: identifierOffset, message: "unknown time zone '\(identifier)'")
            }
            timeZoneIdentifier = identifier
            timeZone = zone
            words.removeFirst()
        }
        if let first = words.first, first.text.hasPrefix("@") {
            let macro = String(first.text)
            if macro == "@reboot" {
                throw CronError(offset: first.offset, message: "@reboot is not supported; use on: manual or a systemd unit")
            }
            guard let expansion = macros[macro] else {
                throw CronError(offset: first.offset, message: "unknown macro '\(macro)'; expected @hourly, @daily, "
                                    + "@midnight, @weekly, @monthly, @yearly or @annually")
            }
            if words.count > 1 {
                throw CronError(offset: words[1].offset, message: "\(macro) stands alone; found '\(words[1].text)' after it")
            }
            return ParsedCron(timeZoneIdentifier: timeZoneIdentifier, timeZone: timeZone,
                              fields: try parseFields(split(expansion)).fields, canonicalFields: expansion)
        }
        guard words.count == 5 else {
            let offset = words.count > 5 ? words[5].offset : text.count
            throw CronError(offset: offset, message: "expected 5 fields, found \(words.count)")
        }
        let (fields, canonical) = try parseFields(words)
        return ParsedCron(timeZoneIdentifier: timeZoneIdentifier, timeZone: timeZone,
                          fields: fields, canonicalFields: canonical)
    }

    /// The blank-separated words of `text` (blanks: space, tab, CR, LF).
    static func split(_ text: String) -> [Word] {
        var words: [Word] = []
        var start: String.Index?
        var startOffset = 0
        var offset = 0
        var index = text.startIndex
        while index < text.endIndex {
            let isBlank = [" ", "\t", "\n", "\r", "\r\n"].contains(text[index])
            if isBlank, let wordStart = start {
                words.append(Word(text: text[wordStart..<index], offset: startOffset))
                start = nil
            } else if !isBlank, start == nil {
                start = index
                startOffset = offset
            }
            index = text.index(after: index)
            offset += 1
        }
        if let wordStart = start {
            words.append(Word(text: text[wordStart...], offset: startOffset))
        }
        return words
    }

    /// Five words to fields and their canonical text.
    static func parseFields(_ words: [Word]) throws(CronError) -> (fields: CronFields, canonical: String) {
        precondition(words.count == 5, "parseFields takes exactly five words")
        var sets: [UInt64] = []
        var canonicalWords: [String] = []
        for kind in CronFieldKind.allCases {
            let (set, canonical) = try parseField(words[kind.rawValue], kind)
            sets.append(set)
            canonicalWords.append(canonical)
        }
        var fields = CronFields(minutes: sets[0], hours: sets[1], daysOfMonth: sets[2], months: sets[3], daysOfWeek: sets[4])
        if fields.daysOfWeek & (1 << 7) != 0 {
            fields.daysOfWeek = (fields.daysOfWeek & ~(1 << 7)) | 1
        }
        fields.dayOfMonthStar = words[2].text.hasPrefix("*")
        fields.dayOfWeekStar = words[4].text.hasPrefix("*")
        fields.minuteOrHourStar = words[0].text.hasPrefix("*") || words[1].text.hasPrefix("*")
        return (fields, canonicalWords.joined(separator: " "))
    }

    /// One field: a comma list of items.
    static func parseField(_ word: Word, _ kind: CronFieldKind) throws(CronError) -> (set: UInt64, canonical: String) {
        var set: UInt64 = 0
        var canonicalItems: [String] = []
        var itemOffset = word.offset
        for item in word.text.split(separator: ",", omittingEmptySubsequences: false) {
            guard !item.isEmpty else {
                throw CronError(offset: itemOffset, message: "empty item in the \(kind.name) list")
            }
            let (itemSet, canonical) = try parseItem(Word(text: item, offset: itemOffset), kind)
            set |= itemSet
            canonicalItems.append(canonical)
            itemOffset += item.count + 1
        }
        return (set, canonicalItems.joined(separator: ","))
    }

    /// One item: `*`, `a`, `a-b`, each with an optional `/step`.
    static func parseItem(_ item: Word, _ kind: CronFieldKind) throws(CronError) -> (set: UInt64, canonical: String) {
        let slash = item.text.firstIndex(of: "/")
        let base = Word(text: item.text[..<(slash ?? item.text.endIndex)], offset: item.offset)
        var low: Int
        var high: Int
        var canonical: String
        if base.text.isEmpty || base.text.hasPrefix("-") {
            let found = base.text.isEmpty ? "/" : "-"
            throw CronError(offset: base.offset, message: "expected \(kind.expectation) in \(kind.name), found '\(found)'")
        } else if base.text.hasPrefix("*"), base.text.count > 1 {
            throw unexpected(base.text.dropFirst().first!, at: base.offset + 1, kind)
        } else if base.text == "*" {
            (low, high) = (kind.range.lowerBound, kind.range.upperBound)
            canonical = "*"
        } else if let dash = base.text.firstIndex(of: "-") {
            let first = Word(text: base.text[..<dash], offset: base.offset)
            let second = Word(text: base.text[base.text.index(after: dash)...], offset: base.offset + first.text.count + 1)
            guard !second.text.isEmpty else {
                throw CronError(offset: second.offset, message: "\(kind.name) range '\(base.text)' has no end")
            }
            low = try parseValue(first, kind)
            high = try parseValue(second, kind)
            if kind == .dayOfWeek, low > 0, high == 0, second.text.uppercased() == "SUN" {
                high = 7
            }
            guard low <= high else {
                throw CronError(offset: base.offset, message: "\(kind.name) range \(low)-\(high) is backwards")
            }
            canonical = "\(low)-\(high)"
        } else {
            low = try parseValue(base, kind)
            high = slash == nil ? low : kind.range.upperBound
            canonical = slash == nil ? "\(low)" : "\(low)-\(high)"
        }
        var step = 1
        var stepText = ""
        if let slash {
            let stepWord = Word(text: item.text[item.text.index(after: slash)...], offset: item.offset + base.text.count + 1)
            step = try parseStep(stepWord, kind)
            stepText = "/\(step)"
        }
        var set: UInt64 = 0
        for value in stride(from: low, through: high, by: step) {
            set |= 1 << UInt64(value)
        }
        return (set, canonical + stepText)
    }

    /// A number or name of the field, checked against its range.
    static func parseValue(_ word: Word, _ kind: CronFieldKind) throws(CronError) -> Int {
        let text = word.text
        guard let firstCharacter = text.first else {
            throw CronError(offset: word.offset, message: "expected \(kind.expectation) in \(kind.name)")
        }
        if firstCharacter.isASCII, firstCharacter.isLetter {
            if let position = text.firstIndex(where: { !($0.isASCII && $0.isLetter) }) {
                throw unexpected(text[position], at: word.offset + text.distance(from: text.startIndex, to: position), kind)
            }
            if let value = kind.names[text.uppercased()] {
                return value
            }
            switch kind {
            case .month: throw CronError(offset: word.offset, message: "unknown month name '\(text)'")
            case .dayOfWeek: throw CronError(offset: word.offset, message: "unknown day name '\(text)'")
            default: throw CronError(offset: word.offset, message: "\(kind.name) must be a number, found '\(text)'")
            }
        }
        let value = try parseNumber(word, kind)
        guard kind.range.contains(value) else {
            let shown = value == Int.max ? String(text) : String(value)
            throw CronError(offset: word.offset, message: "\(kind.name) \(shown) is out of range "
                                + "\(kind.range.lowerBound)-\(kind.range.upperBound)")
        }
        return value
    }

    /// The step after a `/`: a number of at least 1.
    static func parseStep(_ word: Word, _ kind: CronFieldKind) throws(CronError) -> Int {
        guard !word.text.isEmpty else {
            throw CronError(offset: word.offset, message: "\(kind.name) step is missing after '/'")
        }
        guard word.text.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw CronError(offset: word.offset, message: "\(kind.name) step must be a number, found '\(word.text)'")
        }
        guard word.text.count <= 9, let step = Int(word.text) else {
            throw CronError(offset: word.offset, message: "\(kind.name) step \(word.text) is too large")
        }
        guard step >= 1 else {
            throw CronError(offset: word.offset, message: "\(kind.name) step must be at least 1")
        }
        return step
    }

    /// ASCII digits to a number; Int.max when it has more than 9 digits.
    static func parseNumber(_ word: Word, _ kind: CronFieldKind) throws(CronError) -> Int {
        let text = word.text
        if let position = text.firstIndex(where: { !($0.isASCII && $0.isNumber) }) {
            let offset = word.offset + text.distance(from: text.startIndex, to: position)
            if position == text.startIndex {
                throw CronError(offset: offset, message: "expected \(kind.expectation) in \(kind.name), "
                                    + "found '\(text[position])'")
            }
            throw unexpected(text[position], at: offset, kind)
        }
        guard text.count <= 9, let value = Int(text) else { return Int.max }
        return value
    }

    static func unexpected(_ character: Character, at offset: Int, _ kind: CronFieldKind) -> CronError {
        CronError(offset: offset, message: "unexpected '\(character)' in \(kind.name)")
    }
}
