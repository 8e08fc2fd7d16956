import Foundation

/// lm-eval's rolling windows (lm_eval/utils.py `get_rolling_token_windows` followed by
/// `make_disjoint_window`), which `loglikelihood_rolling` scores to get a document's loglikelihood:
/// every token is predicted exactly once, the first after the prefix token, and each later window
/// re-reads as much earlier text as still fits beside its predictions.
public enum RollingWindows {
    /// Disjoint `(context, continuation)` windows over `tokens`; the continuations, in order, are
    /// `tokens`. Each window holds at most `maxSequenceLength + 1` tokens, so the model is given at
    /// most `maxSequenceLength`. `contextLength` is the fewest context tokens a later window keeps
    /// (lm-eval's `loglikelihood_rolling` passes 1).
    public static func windows(tokens: [Int], prefixToken: Int, maxSequenceLength: Int, contextLength: Int = 1) -> [TokenRequest] {
        precondition(1 <= contextLength && contextLength <= maxSequenceLength, "1 <= context_len <= max_seq_len")
        guard !tokens.isEmpty else { return [] }
        let predictionLength = maxSequenceLength - contextLength + 1
        var windows: [(input: [Int], predicted: ArraySlice<Int>)] = []
        let firstLength = min(maxSequenceLength, tokens.count)
        windows.append(([prefixToken] + tokens[..<(firstLength - 1)], tokens[..<firstLength]))
        var predicted = firstLength
        while predicted < tokens.count {
            let windowPredictionLength = min(tokens.count - predicted, predictionLength)
            let windowEnd = predicted + windowPredictionLength
            // The first window predicted maxSequenceLength tokens when any remain, so this start is ≥ 0.
            windows.append((Array(tokens[(windowEnd - maxSequenceLength - 1)..<(windowEnd - 1)]),
                            tokens[(windowEnd - windowPredictionLength)..<windowEnd]))
            predicted += windowPredictionLength
        }
        // make_disjoint_window: the input and the predictions overlap in all but the input's first
        // len(a) - (len(b) - 1) tokens; that part is the context.
        return windows.map { window in
            TokenRequest(context: Array(window.input.prefix(window.input.count - (window.predicted.count - 1))),
                         continuation: Array(window.predicted))
        }
    }
}

/// A text scored with one model: what `kataribe eval --perplexity --json` prints for it.
public struct PerplexityReport: Codable, Sendable, Equatable {
    public var file: String
    public var model: String
    /// Tokens of the text, each predicted once.
    public var tokens: Int
    /// lm-eval's `count_words`: `len(re.split(r"\s+", text))`.
    public var words: Int
    /// UTF-8 bytes.
    public var bytes: Int
    public var windows: Int
    public var maxLength: Int
    public var addSpecialTokens: Bool
    /// Σ over every token of log p(token | what precedes it in its window).
    public var loglikelihood: Double
    /// exp(-loglikelihood / tokens): depends on the tokenizer, so compare it only between models
    /// that share one.
    public var tokenPerplexity: Double
    /// exp(-loglikelihood / words), lm-eval's `word_perplexity`.
    public var wordPerplexity: Double
    /// exp(-loglikelihood / bytes), lm-eval's `byte_perplexity`.
    public var bytePerplexity: Double
    /// -loglikelihood / bytes / ln 2, lm-eval's `bits_per_byte`: comparable across tokenizers.
    public var bitsPerByte: Double

    public init(file: String, model: String, tokens: Int, words: Int, bytes: Int, windows: Int, maxLength: Int,
                addSpecialTokens: Bool, loglikelihood: Double) {
        self.file = file
        self.model = model
        self.tokens = tokens
        self.words = words
        self.bytes = bytes
        self.windows = windows
        self.maxLength = maxLength
        self.addSpecialTokens = addSpecialTokens
        self.loglikelihood = loglikelihood
        tokenPerplexity = exp(-loglikelihood / Double(tokens))
        wordPerplexity = exp(-loglikelihood / Double(words))
        bytePerplexity = exp(-loglikelihood / Double(bytes))
        bitsPerByte = -loglikelihood / Double(bytes) / log(2)
    }

    enum CodingKeys: String, CodingKey {
        case file, model, tokens, words, bytes, windows, loglikelihood
        case maxLength = "max_length", addSpecialTokens = "add_special_tokens"
        case tokenPerplexity = "token_perplexity", wordPerplexity = "word_perplexity"
        case bytePerplexity = "byte_perplexity", bitsPerByte = "bits_per_byte"
    }
}

/// lm-eval's `loglikelihood_rolling` over one document with the `hf` model's settings
/// (`max_seq_len=self.max_length, context_len=1`), and the perplexity metrics of a
/// `loglikelihood_rolling` task (`word_perplexity`, `byte_perplexity`, `bits_per_byte`).
public struct PerplexityEvaluator: ScoringEvaluator {
    public let setup: ScoringSetup

    public init(setup: ScoringSetup) { self.setup = setup }

    /// The whole of `text` is one document (no split at blank lines); `file` names it in the report.
    /// `progress(done, total)` is called once before scoring starts and after each scored window.
    public func evaluate(text: String, file: String, model name: String,
                         progress: (_ done: Int, _ total: Int) -> Void = { _, _ in }) throws(EvaluationError) -> PerplexityReport {
        let tokens = encoder.encode(text)
        guard !tokens.isEmpty else { throw .noTokens(file: file) }
        guard let prefix = encoder.prefixToken else { throw .noPrefixToken }
        let windows = RollingWindows.windows(tokens: tokens, prefixToken: prefix, maxSequenceLength: scorer.maxLength)
        var total = 0.0
        progress(0, windows.count)
        for (index, window) in windows.enumerated() {
            do {
                total += try scorer.score(window).loglikelihood
            } catch .model(let error) {
                throw .model(error)
            } catch {
                // Unreachable: windows always have a context and at most maxLength predictions.
                throw .windowRefused(window: index, reason: "\(error)")
            }
            progress(index + 1, windows.count)
        }
        return PerplexityReport(file: file, model: name, tokens: tokens.count, words: PythonText.splitWordCount(text),
                                bytes: text.utf8.count, windows: windows.count, maxLength: scorer.maxLength,
                                addSpecialTokens: addSpecialTokens, loglikelihood: total)
    }
}
