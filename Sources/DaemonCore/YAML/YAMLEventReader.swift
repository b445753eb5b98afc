// YAMLEventReader.swift: the one file that talks to libyaml (the CYAML module).
//
// A YAMLEventReader owns a yaml_parser_t and a private copy of the input, and hands
// out libyaml's parse events one at a time as Swift `YAMLEvent` values with 1-based
// positions. libyaml's reader, scanner and parser errors become a `YAMLError` with
// libyaml's problem text at the problem mark (for invalid UTF-8, at the offending byte).
// Out of memory inside libyaml traps, as any allocation failure does in Swift. No
// pointer into libyaml leaves this file.

import CYAML

/// One libyaml parse event, with the position where it starts.
struct YAMLEvent {
    enum Kind {
        case streamStart, streamEnd
        case documentStart, documentEnd
        case alias(anchor: String)
        case scalar(text: String, style: YAMLScalarStyle, anchor: String?, tag: String?)
        case sequenceStart(anchor: String?, tag: String?)
        case sequenceEnd
        case mappingStart(anchor: String?, tag: String?)
        case mappingEnd
    }

    var kind: Kind
    var location: SourceLocation
}

/// Pulls events out of libyaml for one input. Confined to the thread that uses it.
final class YAMLEventReader {
    private let file: String
    /// The input; libyaml reads it in place, so it lives as long as the parser.
    private let input: UnsafeMutableBufferPointer<UInt8>
    private let parser: UnsafeMutablePointer<yaml_parser_t>

    init(bytes: [UInt8], file: String) {
        self.file = file
        input = .allocate(capacity: max(bytes.count, 1))
        _ = input.initialize(from: bytes)
        parser = .allocate(capacity: 1)
        guard yaml_parser_initialize(parser) == 1 else {
            fatalError("yaml_parser_initialize: out of memory")
        }
        yaml_parser_set_input_string(parser, input.baseAddress, bytes.count)
    }

    deinit {
        yaml_parser_delete(parser)
        parser.deallocate()
        input.deallocate()
    }

    /// The next event. After the stream end, keeps returning the stream end.
    func next() throws(YAMLError) -> YAMLEvent {
        var event = yaml_event_t()
        guard yaml_parser_parse(parser, &event) == 1 else { throw currentError() }
        defer { yaml_event_delete(&event) }
        let location = self.location(of: event.start_mark)
        let kind: YAMLEvent.Kind
        switch event.type {
        case YAML_STREAM_START_EVENT:
            kind = .streamStart
        case YAML_STREAM_END_EVENT:
            kind = .streamEnd
        case YAML_DOCUMENT_START_EVENT:
            kind = .documentStart
        case YAML_DOCUMENT_END_EVENT:
            kind = .documentEnd
        case YAML_ALIAS_EVENT:
            kind = .alias(anchor: Self.string(event.data.alias.anchor) ?? "")
        case YAML_SCALAR_EVENT:
            let scalar = event.data.scalar
            let text = String(decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
            kind = .scalar(
                text: text, style: Self.style(scalar.style),
                anchor: Self.string(scalar.anchor), tag: Self.string(scalar.tag))
        case YAML_SEQUENCE_START_EVENT:
            let sequence = event.data.sequence_start
            kind = .sequenceStart(anchor: Self.string(sequence.anchor), tag: Self.string(sequence.tag))
        case YAML_SEQUENCE_END_EVENT:
            kind = .sequenceEnd
        case YAML_MAPPING_START_EVENT:
            let mapping = event.data.mapping_start
            kind = .mappingStart(anchor: Self.string(mapping.anchor), tag: Self.string(mapping.tag))
        case YAML_MAPPING_END_EVENT:
            kind = .mappingEnd
        default:
            // YAML_NO_EVENT: libyaml's answer once the stream has ended.
            kind = .streamEnd
        }
        return YAMLEvent(kind: kind, location: location)
    }

    private func location(of mark: yaml_mark_t) -> SourceLocation {
        SourceLocation(file: file, line: Int(mark.line) + 1, column: Int(mark.column) + 1)
    }

    /// The error libyaml just reported, with its problem text and position.
    private func currentError() -> YAMLError {
        let state = parser.pointee
        var message = state.problem.map { String(cString: $0) } ?? "libyaml failed without saying why"
        switch state.error {
        case YAML_READER_ERROR:
            // The reader reports a byte offset, not a mark.
            if state.problem_value != -1 {
                let hex = String(UInt8(truncatingIfNeeded: state.problem_value), radix: 16, uppercase: true)
                message += " (byte 0x" + (hex.count == 1 ? "0" : "") + hex + ")"
            }
            return YAMLError(location: location(ofByteOffset: Int(state.problem_offset)), message: message)
        case YAML_SCANNER_ERROR, YAML_PARSER_ERROR:
            if let context = state.context {
                message += " (\(String(cString: context)) at line \(Int(state.context_mark.line) + 1))"
            }
            return YAMLError(location: location(of: state.problem_mark), message: message)
        case YAML_MEMORY_ERROR:
            fatalError("libyaml: out of memory")
        default:
            return YAMLError(location: location(of: state.problem_mark), message: message)
        }
    }

    /// Line and column (in characters) of a byte offset of the input.
    private func location(ofByteOffset offset: Int) -> SourceLocation {
        var line = 1
        var column = 1
        for byte in input.prefix(offset) {
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
        }
        return SourceLocation(file: file, line: line, column: column)
    }

    private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        guard let pointer else { return nil }
        return String(cString: pointer)
    }

    private static func style(_ style: yaml_scalar_style_t) -> YAMLScalarStyle {
        switch style {
        case YAML_SINGLE_QUOTED_SCALAR_STYLE: return .singleQuoted
        case YAML_DOUBLE_QUOTED_SCALAR_STYLE: return .doubleQuoted
        case YAML_LITERAL_SCALAR_STYLE: return .literal
        case YAML_FOLDED_SCALAR_STYLE: return .folded
        default: return .plain
        }
    }
}
