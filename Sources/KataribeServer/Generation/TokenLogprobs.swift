import Foundation
import KataribeApp
import KataribeModels

/// The log-probability of one generated token, with the most likely alternatives at its position.
///
/// Values are `log_softmax` of the model's raw logits for that position (before temperature, top-k,
/// top-p and the repetition penalty), in double precision — what vLLM reports by default, so they
/// describe the model rather than the sampler settings.
struct TokenLogprob: Sendable, Equatable {
    struct Alternative: Sendable, Equatable {
        var token: Int
        /// `decode([token])`; U+FFFD stands for a token that is only part of a character.
        var text: String
        var logprob: Double
    }

    var token: Int
    var text: String
    var logprob: Double
    /// The `count` most likely tokens (highest first; ties: lower id first), as requested.
    var top: [Alternative]
    /// Unicode scalars of the token texts before this one (OpenAI's `text_offset`, relative to the
    /// generated text).
    var textOffset: Int
}

/// Log-probabilities of a finished sample, computed by scoring prompt + sample once more in a fresh
/// session rather than inside the generation loop: the loop (KataribeApp's `TextGenerator`) stays
/// the single implementation of generation, and only requests that ask for logprobs pay the extra
/// forward pass. Scoring feeds the sequence in larger chunks than generation did, so values can
/// differ from the sampler's in the last float bits.
enum LogprobScorer {
    static func score(model: LoadedModel, prompt: [Int], generated: [Int], top: Int) throws(ModelError) -> [TokenLogprob] {
        guard !generated.isEmpty else { return [] }
        let session = model.model.makeSession()
        var rows = [try session.append(prompt)]
        if generated.count > 1 { rows += try session.appendReturningAllLogits(Array(generated.dropLast())) }
        let tokenizer = model.tokenizer
        let text: (Int) -> String = { tokenizer.decode([$0], skipSpecialTokens: false) }
        var offset = 0
        var out: [TokenLogprob] = []
        out.reserveCapacity(generated.count)
        for (token, logits) in zip(generated, rows) {
            let entry = LogprobCalculator.logprob(of: token, logits: logits, top: top, text: text, textOffset: offset)
            offset += entry.text.unicodeScalars.count
            out.append(entry)
        }
        return out
    }
}

/// `echo: true`: the log-probability of every prompt token after the first (log_softmax of the raw
/// logits at the position before it, as lm-evaluation-harness sums them), then of the generated
/// tokens, from one scoring pass over prompt + generated.
struct EchoLogprobs: Sendable {
    /// The prompt's first token, which has no log-probability.
    var first: TokenLogprob
    /// Prompt tokens 1..., each with the actual token among its alternatives (never empty).
    var prompt: [TokenLogprob]
    var generated: [TokenLogprob]

    static func score(model: LoadedModel, prompt: [Int], generated: [Int], top: Int) throws(ModelError) -> EchoLogprobs {
        let session = model.model.makeSession()
        let sequence = prompt + generated.dropLast()
        let rows = try session.appendReturningAllLogits(sequence)
        let tokenizer = model.tokenizer
        let text: (Int) -> String = { tokenizer.decode([$0], skipSpecialTokens: false) }
        var offset = 0
        func entry(_ position: Int, actualAmongTop: Bool) -> TokenLogprob {
            let token = position < prompt.count ? prompt[position] : generated[position - prompt.count]
            var result = LogprobCalculator.logprob(of: token, logits: rows[position - 1], top: top, text: text, textOffset: offset)
            if actualAmongTop && !result.top.contains(where: { $0.token == token }) {
                result.top.append(.init(token: token, text: result.text, logprob: result.logprob))
            }
            offset += result.text.unicodeScalars.count
            return result
        }
        let firstText = text(prompt[0])
        let first = TokenLogprob(token: prompt[0], text: firstText, logprob: .nan, top: [], textOffset: 0)
        offset = firstText.unicodeScalars.count
        let promptEntries = (1..<max(1, prompt.count)).map { entry($0, actualAmongTop: true) }
        let generatedEntries = generated.indices.map { entry(prompt.count + $0, actualAmongTop: false) }
        return EchoLogprobs(first: first, prompt: promptEntries, generated: generatedEntries)
    }
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
