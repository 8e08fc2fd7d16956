import KataribeGeneration

/// Applies a prompt format's reply markers (`PromptFormat.replyMarkers`) to text that arrives in
/// pieces, so the pieces add up to `ReplyTextFilter.display(_:format:)` of the whole reply. For the
/// rinna chat format every `<NL>` becomes a newline and a trailing `</s>` is dropped; text that could
/// still turn out to be a marker (`<N`, `</s>` at the very end) is held back until it is known.
public struct ReplyTextFilter: Sendable {
    public let format: PromptFormat
    private let newline: [Unicode.Scalar]
    private let endOfReply: [Unicode.Scalar]
    private var pending: [Unicode.Scalar] = []

    public init(format: PromptFormat) {
        self.format = format
        newline = Array((format.replyMarkers.newline ?? "").unicodeScalars)
        endOfReply = Array((format.replyMarkers.endOfReply ?? "").unicodeScalars)
    }

    /// The whole reply as shown.
    public static func display(_ reply: String, format: PromptFormat) -> String {
        format.displayText(fromReply: reply)
    }

    /// Adds raw text; returns what can be shown now.
    public mutating func push(_ text: String) -> String {
        guard !(newline.isEmpty && endOfReply.isEmpty) else { return text }
        pending.append(contentsOf: text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < pending.count {
            let rest = pending[i...]
            if !newline.isEmpty, rest.starts(with: newline) {
                out.append("\n")
                i += newline.count
            } else if mayBecomeMarker(rest) {
                break
            } else {
                out.append(pending[i])
                i += 1
            }
        }
        pending.removeFirst(i)
        return String(out)
    }

    /// Ends the reply: returns what was held back, without a final end-of-reply marker.
    public mutating func finish() -> String {
        guard !(newline.isEmpty && endOfReply.isEmpty) else { return "" }
        // What is held back is at most one unfinished marker, so only a whole end marker is dropped.
        let rest = !endOfReply.isEmpty && pending.elementsEqual(endOfReply) ? [] : pending
        pending = []
        var out = String.UnicodeScalarView()
        var i = 0
        while i < rest.count {
            if !newline.isEmpty, rest[i...].starts(with: newline) {
                out.append("\n")
                i += newline.count
            } else {
                out.append(rest[i])
                i += 1
            }
        }
        return String(out)
    }

    /// Whether `text` (all that is left) is the start of a newline marker that more text could
    /// complete, or the start or whole of an end marker that would be dropped if nothing followed.
    private func mayBecomeMarker(_ text: ArraySlice<Unicode.Scalar>) -> Bool {
        (text.count < newline.count && newline.starts(with: text))
            || (text.count <= endOfReply.count && endOfReply.starts(with: text))
    }
}
