/// Text taken from a file or a request and put into an error message. A hostile file can hold a
/// megabyte-long "tensor name" or terminal escape sequences that repaint the user's screen, so
/// every such piece is shortened and its control characters are shown as escapes.
public enum UntrustedText {
    /// Characters of a quoted piece kept before it is cut with an ellipsis.
    public static let defaultLimit = 120

    /// `text` with control characters (C0, DEL, C1, and the bidirectional overrides that reorder
    /// what a terminal shows) written as `\u{…}` escapes, and cut after `limit` characters.
    public static func quoted(_ text: some StringProtocol, limit: Int = defaultLimit) -> String {
        var out = ""
        var kept = 0
        for scalar in text.unicodeScalars {
            if kept == limit {
                out += "…"
                break
            }
            if isUnsafe(scalar) {
                switch scalar {
                case "\n": out += "\\n"
                case "\t": out += "\\t"
                case "\r": out += "\\r"
                default: out += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
                }
            } else {
                out.unicodeScalars.append(scalar)
            }
            kept += 1
        }
        return out
    }

    /// A whole message for a terminal: control characters escaped (newlines and tabs kept, since
    /// messages use them for layout) and the length bounded.
    public static func message(_ text: String, limit: Int = 4000) -> String {
        var out = ""
        var kept = 0
        for scalar in text.unicodeScalars {
            if kept == limit {
                out += "… (message cut)"
                break
            }
            if scalar == "\n" || scalar == "\t" || !isUnsafe(scalar) {
                out.unicodeScalars.append(scalar)
            } else {
                out += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
            }
            kept += 1
        }
        return out
    }

    static func isUnsafe(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F: true
        case 0x202A...0x202E, 0x2066...0x2069: true  // bidi embeddings, overrides and isolates
        default: false
        }
    }
}
