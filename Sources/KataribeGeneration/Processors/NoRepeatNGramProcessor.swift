/// transformers' `NoRepeatNGramLogitsProcessor`: bans every token that would complete an n-gram
/// already present in the history (prompt included). With n = 1 every seen token is banned.
public struct NoRepeatNGramProcessor: LogitsProcessor {
    public let ngramSize: Int
    public var transformersName: String { "NoRepeatNGramLogitsProcessor" }

    public init(ngramSize: Int) { self.ngramSize = ngramSize }

    public func process(_ scores: UnsafeMutableBufferPointer<Float>, history: TokenHistory, workspace: LogitsWorkspace) {
        let tokens = history.tokens
        let n = ngramSize
        let length = tokens.count
        guard n > 0, length >= n else { return }
        // The next token completes an n-gram whose first n-1 tokens are the current suffix; every
        // earlier window with that same prefix bans its last token. (The window starting at the
        // suffix itself is one token short, so a suffix never bans its own successor.)
        let prefixStart = length - (n - 1)
        tokens.withUnsafeBufferPointer { t in
            for start in 0...(length - n) {
                var matches = true
                for k in 0..<(n - 1) where t[start + k] != t[prefixStart + k] {
                    matches = false
                    break
                }
                let banned = t[start + n - 1]
                if matches, banned >= 0, banned < scores.count { scores[banned] = -.infinity }
            }
        }
    }
}
