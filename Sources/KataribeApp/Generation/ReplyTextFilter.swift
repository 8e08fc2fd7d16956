import KataribeGeneration

/// Applies a prompt format's reply conventions to text that arrives in pieces, so the pieces add up to
/// `ReplyTextFilter.display(_:format:)` of the whole reply. For the rinna chat format that is
/// `RinnaChatFormat.displayText`: every `<NL>` becomes a newline and a trailing `</s>` is dropped; text
/// that could still turn out to be either (`<N`, `</s>` at the very end) is held back until it is known.
public struct ReplyTextFilter: Sendable {
    public let format: PromptFormat
    private var pending: [Unicode.Scalar] = []

    public init(format: PromptFormat) {
        self.format = format
    }

    /// The whole reply as shown.
    public static func display(_ reply: String, format: PromptFormat) -> String {
        switch format {
        case .plain: return reply
        case .rinnaChat: return RinnaChatFormat.displayText(fromReply: reply)
        }
    }

    /// Adds raw text; returns what can be shown now.
    public mutating func push(_ text: String) -> String {
        guard format == .rinnaChat else { return text }
        pending.append(contentsOf: text.unicodeScalars)
        let held = Self.heldSuffixLength(pending)
        let ready = pending[..<(pending.count - held)]
        let out = Self.replacingNewlineMarkers(ready)
        pending.removeFirst(pending.count - held)
        return out
    }

    /// Ends the reply: returns what was held back, without a final `</s>`.
    public mutating func finish() -> String {
        guard format == .rinnaChat else { return "" }
        var rest = pending[...]
        if rest.elementsEqual(Self.endOfText) { rest = rest.dropLast(Self.endOfText.count) }
        pending = []
        return Self.replacingNewlineMarkers(rest)
    }

    private static let newlineMarker = Array(RinnaChatFormat.newline.unicodeScalars)
    private static let endOfText = Array(RinnaChatFormat.endOfText.unicodeScalars)

    /// The longest suffix that is a proper prefix of `<NL>` or a prefix of `</s>` (all of it included,
    /// as more text after it makes it ordinary text). Both start with "<", so a held suffix never
    /// begins inside a complete marker.
    static func heldSuffixLength(_ text: [Unicode.Scalar]) -> Int {
        let longest = min(text.count, max(newlineMarker.count - 1, endOfText.count))
        for length in stride(from: longest, through: 1, by: -1) {
            let suffix = text[(text.count - length)...]
            if (length < newlineMarker.count && suffix.elementsEqual(newlineMarker[..<length]))
                || suffix.elementsEqual(endOfText[..<length]) {
                return length
            }
        }
        return 0
    }

    static func replacingNewlineMarkers(_ text: ArraySlice<Unicode.Scalar>) -> String {
        var out = String.UnicodeScalarView()
        var i = text.startIndex
        while i < text.endIndex {
            if text.endIndex - i >= newlineMarker.count, text[i..<(i + newlineMarker.count)].elementsEqual(newlineMarker) {
                out.append("\n")
                i += newlineMarker.count
            } else {
                out.append(text[i])
                i += 1
            }
        }
        return String(out)
    }
}
