/// Text taken from a file or a request and put into an error message. A hostile file can hold a
/// megabyte-long "tensor name" or terminal escape sequences that repaint the user's screen, so
/// every such piece is shortened and its control characters are shown as escapes.
public enum UntrustedText {
    /// Characters of a quoted piece kept before it is cut with an ellipsis.
    public static let defaultLimit = 120

    /// `text` with control characters (C0, DEL, C1, and the bidirectional overrides that reorder
    /// what a terminal shows) written as escapes (`\n`, `\t`, `\r`, else `\u{…}`), cut after
    /// `limit` characters.
    public static func quoted(_ text: some StringProtocol, limit: Int = defaultLimit) -> String {
        escaped(text, limit: limit, keepingLayout: false, cutMark: "…")
    }

    /// A whole message for a terminal: control characters escaped except the newlines and tabs
    /// that messages use for layout, and the length bounded.
    public static func message(_ text: String, limit: Int = 4000) -> String {
        escaped(text, limit: limit, keepingLayout: true, cutMark: "… (message cut)")
    }

    private static func escaped(_ text: some StringProtocol, limit: Int, keepingLayout: Bool, cutMark: String) -> String {
        var out = ""
        for (kept, scalar) in text.unicodeScalars.enumerated() {
            if kept == limit {
                out += cutMark
                break
            }
            if !isUnsafe(scalar) || (keepingLayout && (scalar == "\n" || scalar == "\t")) {
                out.unicodeScalars.append(scalar)
                continue
            }
            switch scalar {
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default: out += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
            }
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
