import KataribeTokenizers

/// A loglikelihood request in tokens: the continuation is scored after the context.
public struct TokenRequest: Sendable, Equatable {
    public var context: [Int]
    public var continuation: [Int]

    public init(context: [Int], continuation: [Int]) {
        self.context = context
        self.continuation = continuation
    }
}

/// Turns `(context, continuation)` strings into tokens the way lm-eval 0.4.x does
/// (lm_eval/api/model.py, `TemplateLM.loglikelihood` and `_encode_pair`).
///
/// Special tokens: lm-eval's `local-completions` model encodes with `add_special_tokens=False`
/// whichever tokenizer backend it uses (api_models.py `tok_encode`: `False or self.add_bos_token`,
/// and `RemoteTokenizer.encode` posts `"add_special_tokens": False`), so no BOS is prepended unless
/// `add_bos_token=True`. That is the default here (`addSpecialTokens: false`); `true` matches
/// `add_bos_token=True`, and the `hf` model's default of leaving the tokenizer's own setting on
/// (huggingface.py `tok_encode` with `add_special_tokens=None`).
public struct RequestEncoder: Sendable {
    private let encodeText: @Sendable (String) -> [Int]
    private let encodeBare: @Sendable (String) -> [Int]
    /// lm-eval's `prefix_token_id`: BOS when the tokenizer has one, else EOS (huggingface.py
    /// `prefix_token_id`). It stands in for an empty context and starts every perplexity window.
    public let prefixToken: Int?

    /// `encode` is the tokenizer with the chosen special-token setting; `encodeWithoutSpecialTokens`
    /// encodes an empty context's continuation, which lm-eval always encodes without them.
    public init(encode: @escaping @Sendable (String) -> [Int], encodeWithoutSpecialTokens: (@Sendable (String) -> [Int])? = nil,
                prefixToken: Int?) {
        encodeText = encode
        encodeBare = encodeWithoutSpecialTokens ?? encode
        self.prefixToken = prefixToken
    }

    public init(tokenizer: any Tokenizer, addSpecialTokens: Bool = false) {
        self.init(encode: { tokenizer.encode($0, addSpecialTokens: addSpecialTokens) },
                  encodeWithoutSpecialTokens: { tokenizer.encode($0, addSpecialTokens: false) },
                  prefixToken: tokenizer.specialTokens.bos ?? tokenizer.specialTokens.eos)
    }

    /// `text` as lm-eval's `tok_encode` gives it (rolling perplexity encodes the whole document so).
    public func encode(_ text: String) -> [Int] { encodeText(text) }

    /// lm-eval's `loglikelihood`: an empty context becomes the prefix token — unless the
    /// continuation already starts with that token, in which case its first token is the context.
    /// Other contexts go through `encodePair`. Either side may come back empty (a whitespace-only
    /// context, a continuation that merges into the context): the scorer refuses those, as
    /// lm-eval's asserts do.
    public func request(context: String, continuation: String) throws(EvaluationError) -> TokenRequest {
        guard context.isEmpty else { return encodePair(context: context, continuation: continuation) }
        let tokens = encodeBare(continuation)
        guard let prefix = prefixToken else { throw .noPrefixToken }
        if let first = tokens.first, first == prefix {
            return TokenRequest(context: [first], continuation: Array(tokens.dropFirst()))
        }
        return TokenRequest(context: [prefix], continuation: tokens)
    }

    /// lm-eval's `_encode_pair`: trailing whitespace of the context moves to the front of the
    /// continuation (so " 東京" is tokenized as the model saw it in training, not as a dangling
    /// space), then the whole string is encoded and the context's tokens are cut off its front.
    /// Cutting by count rather than encoding the continuation alone keeps merges across the seam
    /// as the tokenizer makes them.
    public func encodePair(context: String, continuation: String) -> TokenRequest {
        let (context, continuation) = Self.movingTrailingWhitespace(context: context, continuation: continuation)
        let whole = encodeText(context + continuation)
        let contextTokens = encodeText(context)
        return TokenRequest(context: contextTokens, continuation: Array(whole.dropFirst(min(contextTokens.count, whole.count))))
    }

    /// `context.rstrip()` and the stripped characters prepended to the continuation; lengths in
    /// Unicode scalars, Python's unit for `len(str)`.
    public static func movingTrailingWhitespace(context: String, continuation: String) -> (context: String, continuation: String) {
        let scalars = context.unicodeScalars
        var end = scalars.endIndex
        while end > scalars.startIndex, PythonText.isWhitespace(scalars[scalars.index(before: end)]) {
            end = scalars.index(before: end)
        }
        guard end < scalars.endIndex else { return (context, continuation) }
        return (String(scalars[..<end]), String(scalars[end...]) + continuation)
    }
}

/// How Python's `str` methods and `re`'s `\s` see text, for counts and splits lm-eval makes.
public enum PythonText {
    /// `str.isspace()`, which is also what `re`'s `\s` matches in a `str` pattern and what
    /// `str.rstrip()` strips: Unicode's White_Space characters plus the four ASCII information
    /// separators (U+001C...U+001F).
    public static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: true
        default: false
        }
    }

    /// `len(re.split(r"\s+", text))`: one more than the number of whitespace runs, so leading and
    /// trailing whitespace each add an empty "word", and an empty text has one.
    public static func splitWordCount(_ text: String) -> Int {
        var runs = 0
        var inRun = false
        for scalar in text.unicodeScalars {
            let space = isWhitespace(scalar)
            if space && !inRun { runs += 1 }
            inRun = space
        }
        return runs + 1
    }

    /// `len(text)`: Unicode scalars (code points), not Swift's grapheme clusters — "が" written as
    /// か + U+3099 is two.
    public static func length(_ text: String) -> Int { text.unicodeScalars.count }
}
