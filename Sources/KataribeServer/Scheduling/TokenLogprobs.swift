import Foundation

/// The log-probability of one generated token, with the most likely alternatives at its position.
///
/// Values are `log_softmax` of the model's raw logits for that position (before temperature, top-k,
/// top-p and the repetition penalty), in double precision — what vLLM reports by default, so they
/// describe the model rather than the sampler settings.
public struct TokenLogprob: Sendable, Equatable {
    public struct Alternative: Sendable, Equatable {
        public var token: Int
        /// `decode([token])`; U+FFFD stands for a token that is only part of a character.
        public var text: String
        public var logprob: Double
    }

    public var token: Int
    public var text: String
    public var logprob: Double
    /// The `count` most likely tokens (highest first; ties: lower id first), as requested.
    public var top: [Alternative]
    /// Unicode scalars of the sample's returned text that precede this token's text.
    public var textOffset: Int
}

enum LogprobCalculator {
    /// `logits` are the raw scores that `chosen` was picked from.
    static func logprob(of chosen: Int, logits: [Float], top count: Int, text: (Int) -> String,
                        textOffset: Int) -> TokenLogprob {
        let normalizer = logSumExp(logits)
        var best: [(token: Int, logit: Float)] = []
        if count > 0 {
            best.reserveCapacity(count + 1)
            for (token, logit) in logits.enumerated() {
                guard best.count < count || logit > best[best.count - 1].logit else { continue }
                // Insertion keeps `best` sorted by logit, then id; `count` is small (≤ 20).
                var i = best.count
                while i > 0 && best[i - 1].logit < logit { i -= 1 }
                best.insert((token, logit), at: i)
                if best.count > count { best.removeLast() }
            }
        }
        return TokenLogprob(
            token: chosen, text: text(chosen), logprob: Double(logits[chosen]) - normalizer,
            top: best.map { TokenLogprob.Alternative(token: $0.token, text: text($0.token), logprob: Double($0.logit) - normalizer) },
            textOffset: textOffset)
    }

    static func logSumExp(_ logits: [Float]) -> Double {
        var maximum = -Float.infinity
        for v in logits where v > maximum { maximum = v }
        guard maximum.isFinite else { return Double(maximum) }
        let m = Double(maximum)
        var sum = 0.0
        for v in logits { sum += exp(Double(v) - m) }
        return m + log(sum)
    }
}
