/// Turns generated token ids into text deltas for streaming and stop-string checks, using any
/// "decode these ids" function (the tokenizer is not a dependency of this module).
///
/// Each new token is decoded together with the tokens since the last emitted delta and the delta
/// before it (two offsets, as text-generation-inference does), and text is held back while it ends
/// in U+FFFD, i.e. while a byte-level or byte-fallback character is still incomplete. For most
/// tokenizers the deltas concatenate to `decode(all ids)`; the final text shown to a user should
/// still come from one `decode` of all ids, which is what transformers returns.
public struct IncrementalDetokenizer {
    private let decode: ([Int]) -> String
    private var tokens: [Int]
    private var prefixOffset: Int
    private var readOffset: Int

    /// `context`: ids already shown (e.g. the prompt's last few) that set spacing rules for the
    /// first new token; they are never emitted. Empty by default, to match `decode(generated)`.
    public init(context: [Int] = [], decode: @escaping ([Int]) -> String) {
        self.decode = decode
        self.tokens = context
        self.prefixOffset = 0
        self.readOffset = context.count
    }

    /// Adds one token; returns the text that became final (possibly empty).
    public mutating func append(_ token: Int) -> String {
        tokens.append(token)
        let shown = decode(Array(tokens[prefixOffset..<readOffset]))
        let full = decode(Array(tokens[prefixOffset...]))
        let shownCount = shown.unicodeScalars.count
        guard full.unicodeScalars.count > shownCount, !full.hasSuffix("\u{FFFD}") else { return "" }
        prefixOffset = readOffset
        readOffset = tokens.count
        return String(String.UnicodeScalarView(full.unicodeScalars.dropFirst(shownCount)))
    }

    /// Whatever is still held back (an incomplete character decodes to U+FFFD), at the end.
    public mutating func flush() -> String {
        guard readOffset < tokens.count else { return "" }
        let shown = decode(Array(tokens[prefixOffset..<readOffset]))
        let full = decode(Array(tokens[prefixOffset...]))
        prefixOffset = readOffset
        readOffset = tokens.count
        let shownCount = shown.unicodeScalars.count
        guard full.unicodeScalars.count > shownCount else { return "" }
        return String(String.UnicodeScalarView(full.unicodeScalars.dropFirst(shownCount)))
    }
}
