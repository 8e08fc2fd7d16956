import KataribeModels
import KataribeTensor

/// lm-eval's answer to one loglikelihood request.
public struct LoglikelihoodResult: Sendable, Equatable {
    /// Σ log_softmax(logits before each continuation token)[token], in double precision.
    public var loglikelihood: Double
    /// Whether every continuation token is the model's most likely one at its position (greedy
    /// decoding would have produced the continuation).
    public var isGreedy: Bool

    public init(loglikelihood: Double, isGreedy: Bool) {
        self.loglikelihood = loglikelihood
        self.isGreedy = isGreedy
    }
}

/// Scores token requests the way lm-eval's `hf` model does in `_loglikelihood_tokens`
/// (lm_eval/models/huggingface.py):
///
///     inp = (context_enc + continuation_enc)[-(max_length + 1):][:-1]
///
/// the model is given at most `maxLength` tokens (the context is cut from the left when
/// context + continuation is longer than `maxLength + 1`; the last token is only predicted, never
/// fed), and the last `len(continuation_enc)` rows of logits score the continuation.
public struct LoglikelihoodScorer: Sendable {
    /// Why a request is not scored: lm-eval asserts on all of these.
    public enum Refusal: Error, Equatable, Sendable {
        case emptyContext
        case emptyContinuation
        case continuationTooLong(tokens: Int)
        case model(ModelError)
    }

    public let model: any CausalLanguageModel
    /// lm-eval's `max_length`: the most tokens the model is given at once. The `hf` model reads it
    /// from `max_position_embeddings`, as the default here does.
    public let maxLength: Int

    /// Rows of logits asked for per call. A multiple of the 128-token forward chunk sessions use by
    /// default, so the pieces are computed exactly as one call for the whole input would compute
    /// them, while holding 512 rows × vocabulary floats rather than a whole window's.
    static let rowsPerCall = 512

    public init(model: any CausalLanguageModel, maxLength: Int? = nil) throws(EvaluationError) {
        let limit = model.contextLength
        let length = maxLength ?? limit
        guard (1...limit).contains(length) else { throw .invalidMaxLength(requested: length, contextLength: limit) }
        self.model = model
        self.maxLength = length
    }

    public func score(_ request: TokenRequest) throws(Refusal) -> LoglikelihoodResult {
        guard !request.context.isEmpty else { throw .emptyContext }
        let continuation = request.continuation
        guard !continuation.isEmpty else { throw .emptyContinuation }
        guard continuation.count <= maxLength else { throw .continuationTooLong(tokens: continuation.count) }
        let whole = request.context + continuation
        let input = Array(whole.suffix(maxLength + 1).dropLast())
        // Row i of the logits predicts input[i + 1]; the continuation's first token follows row `firstScored`.
        let firstScored = input.count - continuation.count
        let session = model.makeSession()
        session.reserveCapacity(input.count)
        var total = 0.0
        var greedy = true
        var start = 0
        do {
            while start < input.count {
                let end = min(start + Self.rowsPerCall, input.count)
                let piece = Array(input[start..<end])
                if end <= firstScored {
                    // Context only: the cache is what matters, and one row of logits is cheaper than all.
                    _ = try session.append(piece)
                } else {
                    let rows = try session.appendReturningAllLogits(piece)
                    for row in max(start, firstScored)..<end {
                        let token = continuation[row - firstScored]
                        let score = Self.score(rows[row - start], token: token)
                        total += score.logprob
                        greedy = greedy && score.isArgmax
                    }
                }
                start = end
            }
        } catch {
            throw .model(error)
        }
        return LoglikelihoodResult(loglikelihood: total, isGreedy: greedy)
    }

    /// `log_softmax(logits)[token]` and whether `token` is the first index of the largest logit
    /// (`argmax`'s choice on ties).
    static func score(_ logits: [Float], token: Int) -> (logprob: Double, isArgmax: Bool) {
        logits.withUnsafeBufferPointer { buffer in
            var best = 0
            for i in buffer.indices where buffer[i] > buffer[best] { best = i }
            return (VectorOps.logSoftmax(buffer, at: token), best == token)
        }
    }
}

/// What both evaluators score with: one model's request encoder and log-likelihood scorer, and the
/// special-token choice they were made with (reported beside the scores; the encoder applies it).
public struct ScoringSetup: Sendable {
    public let encoder: RequestEncoder
    public let scorer: LoglikelihoodScorer
    public let addSpecialTokens: Bool

    public init(encoder: RequestEncoder, scorer: LoglikelihoodScorer, addSpecialTokens: Bool = false) {
        self.encoder = encoder
        self.scorer = scorer
        self.addSpecialTokens = addSpecialTokens
    }

    /// `maxLength` nil: the model's context length.
    public init(model: LoadedModel, addSpecialTokens: Bool = false, maxLength: Int? = nil) throws(EvaluationError) {
        self.init(encoder: RequestEncoder(tokenizer: model.tokenizer, addSpecialTokens: addSpecialTokens),
                  scorer: try LoglikelihoodScorer(model: model.model, maxLength: maxLength), addSpecialTokens: addSpecialTokens)
    }
}

/// An evaluator built on a `ScoringSetup`; the ways to make one and its parts are shared here.
public protocol ScoringEvaluator: Sendable {
    var setup: ScoringSetup { get }
    init(setup: ScoringSetup)
}

extension ScoringEvaluator {
    public var encoder: RequestEncoder { setup.encoder }
    public var scorer: LoglikelihoodScorer { setup.scorer }
    public var addSpecialTokens: Bool { setup.addSpecialTokens }

    public init(encoder: RequestEncoder, scorer: LoglikelihoodScorer, addSpecialTokens: Bool = false) {
        self.init(setup: ScoringSetup(encoder: encoder, scorer: scorer, addSpecialTokens: addSpecialTokens))
    }

    /// `maxLength` nil: the model's context length.
    public init(model: LoadedModel, addSpecialTokens: Bool = false, maxLength: Int? = nil) throws(EvaluationError) {
        self.init(setup: try ScoringSetup(model: model, addSpecialTokens: addSpecialTokens, maxLength: maxLength))
    }
}
