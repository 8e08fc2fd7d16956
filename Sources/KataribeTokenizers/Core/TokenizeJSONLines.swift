/// JSON-lines input and output for `kataribe tokenize --jsonl`, with the module's strict parser
/// (invalid UTF-8 or lone surrogates in the input are errors, as they are for the Python libraries).
public enum TokenizeJSONLines {
    /// The `"text"` member of one input line.
    public static func text(fromLine line: [UInt8], lineNumber: Int) throws(TokenizerError) -> String {
        let value: JSONValue
        do {
            value = try JSONParser.parse(line)
        } catch {
            throw TokenizerError.invalidInput(reason: "line \(lineNumber): \(error.reason) at byte \(error.offset)")
        }
        guard case let .object(object) = value, case let .string(text)? = object["text"] else {
            throw TokenizerError.invalidInput(reason: "line \(lineNumber): expected an object with a \"text\" string")
        }
        return text
    }

    /// `{"ids": [...], "pieces": [...], "decoded": "..."}` (non-ASCII kept as is, like `ensure_ascii=False`).
    public static func outputLine(ids: [Int], pieces: [String], decoded: String) -> String {
        var out = "{\"ids\": ["
        out += ids.map(String.init).joined(separator: ", ")
        out += "], \"pieces\": ["
        out += pieces.map(quoted).joined(separator: ", ")
        out += "], \"decoded\": " + quoted(decoded) + "}"
        return out
    }

    /// A JSON string literal for `text`.
    public static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
