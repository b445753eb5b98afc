// SQLiteValue.swift: the values that go into and come out of SQLite, and result rows.
//
// SQLiteValue mirrors SQLite's five storage classes. SQLiteRow is a fetched row, fully
// copied out of the statement, so it is a plain Sendable value. Nothing here can fail:
// typed accessors return nil for NULL or for a value that does not convert.

/// A value as SQLite stores it: NULL, a 64-bit integer, a double, UTF-8 text or a blob.
/// A double NaN is stored by SQLite as NULL.
public enum SQLiteValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])

    /// `.text`, or `.null` for nil.
    public init(_ value: String?) {
        self = value.map { .text($0) } ?? .null
    }

    /// `.integer`, or `.null` for nil.
    public init(_ value: Int64?) {
        self = value.map { .integer($0) } ?? .null
    }

    /// `.integer`, or `.null` for nil.
    public init(_ value: Int?) {
        self = value.map { .integer(Int64($0)) } ?? .null
    }

    /// `.real`, or `.null` for nil.
    public init(_ value: Double?) {
        self = value.map { .real($0) } ?? .null
    }

    /// `.integer(1)` for true, `.integer(0)` for false, `.null` for nil.
    public init(_ value: Bool?) {
        self = value.map { .integer($0 ? 1 : 0) } ?? .null
    }

    /// `.blob`, or `.null` for nil.
    public init(_ value: [UInt8]?) {
        self = value.map { .blob($0) } ?? .null
    }

    /// Whether this is SQL NULL.
    public var isNull: Bool { self == .null }

    /// The value as an integer: integers, doubles with an exact integer value, and text
    /// that reads as an integer convert; nil otherwise.
    public var intValue: Int64? {
        switch self {
        case .integer(let number): return number
        case .real(let number):
            guard number.rounded() == number, abs(number) < 9.0e18 else { return nil }
            return Int64(number)
        case .text(let text): return Int64(text)
        case .null, .blob: return nil
        }
    }

    /// The value as a double: doubles, integers and numeric text convert; nil otherwise.
    public var doubleValue: Double? {
        switch self {
        case .real(let number): return number
        case .integer(let number): return Double(number)
        case .text(let text): return Double(text)
        case .null, .blob: return nil
        }
    }

    /// The value as text: text, numbers in decimal, blobs decoded as UTF-8; nil for NULL.
    public var stringValue: String? {
        switch self {
        case .text(let text): return text
        case .integer(let number): return String(number)
        case .real(let number): return String(number)
        case .blob(let bytes): return String(decoding: bytes, as: UTF8.self)
        case .null: return nil
        }
    }

    /// The value as bytes: blobs, and text as its UTF-8; nil for NULL and numbers.
    public var blobValue: [UInt8]? {
        switch self {
        case .blob(let bytes): return bytes
        case .text(let text): return Array(text.utf8)
        case .null, .integer, .real: return nil
        }
    }
}

extension SQLiteValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .text(value) }
    public init(integerLiteral value: Int64) { self = .integer(value) }
    public init(floatLiteral value: Double) { self = .real(value) }
    public init(nilLiteral: ()) { self = .null }
}

/// One row of a query result, copied out of SQLite.
public struct SQLiteRow: Sendable {
    /// The result columns' names, in order (shared by all rows of one query).
    public let columnNames: [String]
    /// The values, in column order.
    let values: [SQLiteValue]

    init(columnNames: [String], values: [SQLiteValue]) {
        precondition(columnNames.count == values.count, "row has \(values.count) values for \(columnNames.count) columns")
        self.columnNames = columnNames
        self.values = values
    }

    /// The value of the column at `index`; an index out of range is a programmer error.
    public subscript(index: Int) -> SQLiteValue {
        precondition(values.indices.contains(index), "column index \(index) out of range 0..<\(values.count)")
        return values[index]
    }

    /// The value of the column named `column` (compared without regard to ASCII case,
    /// as SQLite does), or `.null` when the row has no such column.
    public subscript(column: String) -> SQLiteValue {
        guard let index = index(of: column) else { return .null }
        return values[index]
    }

    /// The column as an integer; nil when NULL, missing or not an integer.
    public func int(_ column: String) -> Int64? { self[column].intValue }

    /// The column as a double; nil when NULL, missing or not numeric.
    public func double(_ column: String) -> Double? { self[column].doubleValue }

    /// The column as text; nil when NULL or missing.
    public func string(_ column: String) -> String? { self[column].stringValue }

    /// The column as bytes; nil when NULL, missing or a number.
    public func blob(_ column: String) -> [UInt8]? { self[column].blobValue }

    private func index(of column: String) -> Int? {
        if let exact = columnNames.firstIndex(of: column) { return exact }
        let lowered = column.lowercased()
        return columnNames.firstIndex { $0.lowercased() == lowered }
    }
}
