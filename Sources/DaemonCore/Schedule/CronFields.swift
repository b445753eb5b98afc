// CronFields.swift: the five value sets of a cron schedule, and the search for the next
// wall-clock minute they match.
//
// Wall-clock times here are "local seconds": seconds since 1970-01-01 00:00 on a clock
// of the schedule's zone, with no offset applied, in the proleptic Gregorian calendar.
// The search skips by field (month, then day, then hour, then minute), so one match
// costs at most a few dozen steps per month searched, never one step per minute. It
// cannot fail: past its horizon it returns nil. Empty sets are a programmer error
// (the parser never builds one) and trap.

/// The parsed fields of a schedule: bit n of each set is value n.
struct CronFields: Sendable, Equatable {
    /// Minutes 0-59.
    var minutes: UInt64 = 0
    /// Hours 0-23.
    var hours: UInt64 = 0
    /// Days of the month 1-31.
    var daysOfMonth: UInt64 = 0
    /// Months 1-12.
    var months: UInt64 = 0
    /// Days of the week 0-6, 0 = Sunday (a 7 in the text is folded into 0).
    var daysOfWeek: UInt64 = 0
    /// Vixie's DOM_STAR: the day-of-month field starts with `*`.
    var dayOfMonthStar = false
    /// Vixie's DOW_STAR: the day-of-week field starts with `*`.
    var dayOfWeekStar = false
    /// Vixie's MIN_STAR or HR_STAR: the minute or the hour field starts with `*`. Such a
    /// "wildcard" schedule follows the clock through DST changes (see `CronSchedule`).
    var minuteOrHourStar = false

    /// Whether a day matches: both day fields must match when either starts with `*`,
    /// otherwise either one is enough (the Vixie rule).
    func matchesDay(dayOfMonth: Int, weekday: Int) -> Bool {
        let dayOfMonthMatches = daysOfMonth.contains(dayOfMonth)
        let weekdayMatches = daysOfWeek.contains(weekday)
        if dayOfMonthStar || dayOfWeekStar {
            return dayOfMonthMatches && weekdayMatches
        }
        return dayOfMonthMatches || weekdayMatches
    }

    /// The first whole wall-clock minute at or after `start` (local seconds) that matches
    /// every field, or nil if there is none at or before `limit`.
    func nextMatch(atOrAfter start: Int64, through limit: Int64) -> Int64? {
        precondition(minutes != 0 && hours != 0 && daysOfMonth != 0 && months != 0 && daysOfWeek != 0,
                     "cron fields must not be empty")
        let firstMinute = start.roundedUp(toMultipleOf: 60)
        var days = firstMinute.flooredDivision(by: 86_400)
        let secondOfDay = firstMinute - days * 86_400
        var hour = Int(secondOfDay / 3600)
        var minute = Int(secondOfDay % 3600 / 60)
        var date = CivilDate(days: days)

        func moveToNextDay() {
            days += 1
            date = CivilDate(days: days)
            hour = 0
            minute = 0
        }

        while days * 86_400 <= limit {
            guard months.contains(date.month) else {
                if let month = months.lowestMember(atOrAbove: date.month + 1) {
                    date = CivilDate(year: date.year, month: month, day: 1)
                } else {
                    date = CivilDate(year: date.year + 1, month: months.lowestMember(atOrAbove: 0)!, day: 1)
                }
                days = date.daysSinceEpoch
                hour = 0
                minute = 0
                continue
            }
            guard matchesDay(dayOfMonth: date.day, weekday: CivilDate.weekday(days: days)) else {
                moveToNextDay()
                continue
            }
            guard let matchedHour = hours.lowestMember(atOrAbove: hour) else {
                moveToNextDay()
                continue
            }
            if matchedHour != hour {
                hour = matchedHour
                minute = 0
            }
            guard let matchedMinute = minutes.lowestMember(atOrAbove: minute) else {
                if hour == 23 {
                    moveToNextDay()
                } else {
                    hour += 1
                    minute = 0
                }
                continue
            }
            let match = days * 86_400 + Int64(hour) * 3600 + Int64(matchedMinute) * 60
            return match <= limit ? match : nil
        }
        return nil
    }
}

/// A day of the proleptic Gregorian calendar (Howard Hinnant's civil-date algorithms).
struct CivilDate: Sendable, Equatable {
    var year: Int64
    var month: Int
    var day: Int

    init(year: Int64, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    /// The date `days` days after 1970-01-01.
    init(days: Int64) {
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        day = Int(dayOfYear - (153 * shiftedMonth + 2) / 5 + 1)
        month = Int(shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9)
        year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    }

    /// Days since 1970-01-01 (negative before).
    var daysSinceEpoch: Int64 {
        let marchYear = month <= 2 ? year - 1 : year
        let era = (marchYear >= 0 ? marchYear : marchYear - 399) / 400
        let yearOfEra = marchYear - era * 400
        let dayOfYear = Int64((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1)
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// 0 = Sunday ... 6 = Saturday (1970-01-01 was a Thursday).
    static func weekday(days: Int64) -> Int {
        Int((days + 4).flooredModulo(7))
    }
}

fileprivate extension UInt64 {
    /// Whether bit `value` is set.
    func contains(_ value: Int) -> Bool {
        value >= 0 && value < 64 && self & (1 << UInt64(value)) != 0
    }

    /// The lowest set bit at or above `value`, or nil.
    func lowestMember(atOrAbove value: Int) -> Int? {
        guard value < 64 else { return nil }
        let masked = self & (UInt64.max << UInt64(Swift.max(0, value)))
        return masked == 0 ? nil : masked.trailingZeroBitCount
    }
}

fileprivate extension Int64 {
    /// Floor division (rounds toward negative infinity).
    func flooredDivision(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }

    /// The remainder of floor division, in 0..<divisor for a positive divisor.
    func flooredModulo(_ divisor: Int64) -> Int64 {
        self - flooredDivision(by: divisor) * divisor
    }

    /// The smallest multiple of `step` that is not below `self`.
    func roundedUp(toMultipleOf step: Int64) -> Int64 {
        let remainder = flooredModulo(step)
        return remainder == 0 ? self : self + (step - remainder)
    }
}
