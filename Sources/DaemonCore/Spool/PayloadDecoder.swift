// PayloadDecoder.swift: a trigger file's bytes → the run's `trigger.payload`.
//
// json: the document; yaml: the document as JSON; lines: an array of the lines;
// raw: not parsed (null; steps read the file through trigger.file). A file that does not
// parse is refused with a reason naming the format and the position.

enum PayloadDecoder {
    /// The payload, or a reason for refusing the file.
    static func decode(_ bytes: [UInt8], format: PayloadFormat, fileName: String) -> Result<JSONValue, PayloadError> {
        switch format {
        case .raw:
            return .success(.null)
        case .json:
            do {
                return .success(try JSONValue.parse(bytes))
            } catch {
                return .failure(PayloadError(reason: "payload is not valid JSON: \(error)"))
            }
        case .yaml:
            do {
                return .success(try YAMLParser.parse(bytes, file: fileName)?.toJSON() ?? .null)
            } catch {
                return .failure(PayloadError(reason: "payload is not valid YAML: \(error)"))
            }
        case .lines:
            guard let text = String(validating: bytes, as: UTF8.self) else {
                return .failure(PayloadError(reason: "payload is not valid UTF-8 text"))
            }
            var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            if lines.last == "" { lines.removeLast() }
            return .success(.array(lines.map(JSONValue.string)))
        }
    }
}

/// Why a payload was refused.
struct PayloadError: Error {
    var reason: String
}
