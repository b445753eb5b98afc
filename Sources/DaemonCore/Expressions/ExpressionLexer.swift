// ExpressionLexer.swift: turns expression text into tokens, one at a time.
//
// The lexer reads an array of Unicode scalars from a start offset: the whole text for
// a standalone expression, or the scalars after a `{{` of a template, where `}}` ends
// the expression (a `}}` inside a string literal does not). Errors point at the
// offending character: an unterminated string at its opening quote, a bad escape at
// its backslash, an unexpected character at itself. An expression longer than
// ExpressionLimits.maxLength is an error at its start.

struct ExpressionLexer {
    private let scalars: [Unicode.Scalar]
    private var position: Int
    /// Where the expression starts, for the length limit.
    private let start: Int
    /// True inside a template: `}}` is a token there.
    private let inTemplate: Bool
    /// True right after a `.`: a member name may start with a digit (step ids may).
    private var afterDot = false

    init(scalars: [Unicode.Scalar], start: Int, inTemplate: Bool) {
        self.scalars = scalars
        self.position = start
        self.start = start
        self.inTemplate = inTemplate
    }

    /// The next token; `.end` at the end of the text.
    mutating func next() throws(ExpressionError) -> ExpressionToken {
        skipWhitespace()
        let token = try lexToken()
        if case .symbol(.dot) = token.kind { afterDot = true } else { afterDot = false }
        let length = (token.kind == .closeTemplate ? token.offset : token.end) - start
        if length > ExpressionLimits.maxLength {
            throw ExpressionError(
                offset: start, message: "expression is longer than \(ExpressionLimits.maxLength) characters")
        }
        return token
    }

    private mutating func skipWhitespace() {
        while position < scalars.count, [" ", "\t", "\n", "\r"].contains(scalars[position]) { position += 1 }
    }

    private func peek(_ distance: Int = 0) -> Unicode.Scalar? {
        position + distance < scalars.count ? scalars[position + distance] : nil
    }

    private mutating func lexToken() throws(ExpressionError) -> ExpressionToken {
        let offset = position
        guard let first = peek() else { return ExpressionToken(kind: .end, offset: offset, end: offset) }
        if Self.isNameStart(first) || (afterDot && Self.isDigit(first)) {
            while let next = peek(), Self.isNameCharacter(next) { position += 1 }
            let name = String(String.UnicodeScalarView(scalars[offset..<position]))
            return ExpressionToken(kind: .name(name), offset: offset, end: position)
        }
        if Self.isDigit(first) || (first == "-" && peek(1).map(Self.isDigit) == true) {
            return try lexNumber()
        }
        if first == "\"" || first == "'" { return try lexString() }
        if inTemplate && first == "}" && peek(1) == "}" {
            position += 2
            return ExpressionToken(kind: .closeTemplate, offset: offset, end: position)
        }
        let pair = peek(1).map { String(first) + String($0) }
        if let pair, let symbol = ExpressionSymbol(rawValue: pair) {
            position += 2
            return ExpressionToken(kind: .symbol(symbol), offset: offset, end: position)
        }
        if let symbol = ExpressionSymbol(rawValue: String(first)) {
            position += 1
            return ExpressionToken(kind: .symbol(symbol), offset: offset, end: position)
        }
        let hint: String
        switch first {
        case "=": hint = "; use '==' to compare"
        case "&": hint = "; use '&&'"
        case "|": hint = "; use '||'"
        case "}" where inTemplate: hint = "; an expression ends with '}}'"
        default: hint = ""
        }
        throw ExpressionError(offset: offset, message: "unexpected character \(Self.quoted(first))\(hint)")
    }

    /// An integer or a float, with an optional leading minus glued to it.
    private mutating func lexNumber() throws(ExpressionError) -> ExpressionToken {
        let offset = position
        if peek() == "-" { position += 1 }
        skipDigits()
        var isDouble = false
        if peek() == ".", let next = peek(1), Self.isDigit(next) {
            isDouble = true
            position += 1
            skipDigits()
        }
        if peek() == "e" || peek() == "E" {
            let signLength = (peek(1) == "+" || peek(1) == "-") ? 1 : 0
            if let digit = peek(1 + signLength), Self.isDigit(digit) {
                isDouble = true
                position += 1 + signLength
                skipDigits()
            }
        }
        let text = String(String.UnicodeScalarView(scalars[offset..<position]))
        if isDouble {
            guard let number = Double(text), number.isFinite else {
                throw ExpressionError(offset: offset, message: "number \(text) is out of range")
            }
            return ExpressionToken(kind: .double(number), offset: offset, end: position)
        }
        guard let number = Int64(text) else {
            throw ExpressionError(offset: offset, message: "integer \(text) does not fit in 64 bits")
        }
        return ExpressionToken(kind: .integer(number), offset: offset, end: position)
    }

    private mutating func skipDigits() {
        while let next = peek(), Self.isDigit(next) { position += 1 }
    }

    /// A string in single or double quotes, with \n \t \r \\ \' \" \/ and \uXXXX escapes.
    private mutating func lexString() throws(ExpressionError) -> ExpressionToken {
        let offset = position
        let quote = scalars[position]
        position += 1
        var text = String.UnicodeScalarView()
        while true {
            guard let scalar = peek() else {
                throw ExpressionError(offset: offset, message: "unterminated string: no closing \(quote)")
            }
            position += 1
            if scalar == quote { break }
            if scalar != "\\" {
                text.append(scalar)
                continue
            }
            let escapeOffset = position - 1
            guard let escaped = peek() else {
                throw ExpressionError(offset: offset, message: "unterminated string: no closing \(quote)")
            }
            position += 1
            switch escaped {
            case "n": text.append("\n")
            case "t": text.append("\t")
            case "r": text.append("\r")
            case "\\", "'", "\"", "/": text.append(escaped)
            case "u": text.append(try lexUnicodeEscape(at: escapeOffset))
            default:
                throw ExpressionError(
                    offset: escapeOffset,
                    message: "unknown escape '\\\(escaped)'; known: \\n \\t \\r \\\\ \\' \\\" \\uXXXX")
            }
        }
        return ExpressionToken(kind: .string(String(text)), offset: offset, end: position)
    }

    /// The scalar of `\uXXXX` (the `\u` already read), a surrogate pair included.
    private mutating func lexUnicodeEscape(at escapeOffset: Int) throws(ExpressionError) -> Unicode.Scalar {
        let first = try lexHexQuad(at: escapeOffset)
        if (0xD800..<0xDC00).contains(first), peek() == "\\", peek(1) == "u" {
            position += 2
            let second = try lexHexQuad(at: position - 2)
            if (0xDC00..<0xE000).contains(second),
               let scalar = Unicode.Scalar(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)) {
                return scalar
            }
        }
        guard let scalar = Unicode.Scalar(first) else {
            throw ExpressionError(offset: escapeOffset, message: "\\u escape is a lone surrogate")
        }
        return scalar
    }

    private mutating func lexHexQuad(at escapeOffset: Int) throws(ExpressionError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let scalar = peek(), let digit = Self.hexValue(scalar) else {
                throw ExpressionError(offset: escapeOffset, message: "\\u needs four hex digits")
            }
            value = value * 16 + digit
            position += 1
        }
        return value
    }

    private static func hexValue(_ scalar: Unicode.Scalar) -> UInt32? {
        switch scalar {
        case "0"..."9": return scalar.value - 0x30
        case "a"..."f": return scalar.value - 0x61 + 10
        case "A"..."F": return scalar.value - 0x41 + 10
        default: return nil
        }
    }

    static func isDigit(_ scalar: Unicode.Scalar) -> Bool { ("0"..."9").contains(scalar) }

    static func isNameStart(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || scalar == "_"
    }

    /// Names go on with letters, digits, `_` and `-` (step ids like `build-image`).
    static func isNameCharacter(_ scalar: Unicode.Scalar) -> Bool {
        isNameStart(scalar) || isDigit(scalar) || scalar == "-"
    }

    /// `'x'` for a printable scalar, `U+0007` otherwise.
    static func quoted(_ scalar: Unicode.Scalar) -> String {
        if scalar.properties.generalCategory == .control || scalar == " " {
            return "U+" + String(String(scalar.value, radix: 16, uppercase: true).leftPadded(to: 4))
        }
        return "'\(scalar)'"
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
