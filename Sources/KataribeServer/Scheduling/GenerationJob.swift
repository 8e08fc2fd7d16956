import KataribeApp
import KataribeGeneration
import KataribeModels
import KataribeTokenizers
import Synchronization

/// One request inside the scheduler: a prepared generation run one step at a time, so that a worker
/// can interleave many. A step is one prompt chunk or one generated token (one forward pass).
///
/// The loop is `TextGenerator`'s (the prompt once, then each sample from the saved prompt logits,
/// rewinding the session between samples), so a request gives the same tokens and text as
/// `kataribe generate` with the same settings and seed.
///
/// Thread-safety: `cancel()` and `isCancelled` may be used from any thread; everything else is used
/// only by the worker that admitted the job, one step at a time, hence `@unchecked Sendable`.
final class GenerationJob: @unchecked Sendable {
    let prepared: PreparedGeneration
    /// nil: no log-probabilities; k ≥ 0: the chosen token's and the k most likely tokens'.
    let logprobCount: Int?
    private let continuation: AsyncStream<ScheduledEvent>.Continuation
    private let cancelled = Atomic<Bool>(false)

    private var session: (any LanguageModelSession)?
    private var promptFed = 0
    private var promptLogits: [Float] = []
    private var sampleIndex = 0
    private var run: SampleRun?
    private var completionTokens = 0

    init(prepared: PreparedGeneration, logprobCount: Int?, continuation: AsyncStream<ScheduledEvent>.Continuation) {
        self.prepared = prepared
        self.logprobCount = logprobCount
        self.continuation = continuation
    }

    var isCancelled: Bool { cancelled.load(ordering: .relaxed) }
    func cancel() { cancelled.store(true, ordering: .relaxed) }

    /// Advances by one step. Returns the number of tokens generated in this step and whether the job
    /// is over (its stream finished).
    func step(model: LoadedModel, prefillChunk: Int) -> (tokens: Int, done: Bool) {
        do {
            return try advance(model: model, prefillChunk: prefillChunk)
        } catch {
            session = nil
            continuation.yield(.failed(error))
            continuation.finish()
            return (0, true)
        }
    }

    /// Ends a job that never started (cancelled while waiting): every sample is reported cancelled.
    func finishUnstarted() {
        for index in 0..<prepared.parameters.numReturnSequences {
            continuation.yield(.sampleFinished(SampleOutcome(
                index: index, text: "", tail: "", tailLogprobs: [], logprobs: logprobCount.map { _ in [] },
                stopReason: .cancelled, tokens: [])))
        }
        continuation.yield(.finished(RequestOutcome(promptTokens: prepared.promptTokens.count, completionTokens: 0,
                                                    seed: prepared.seed)))
        continuation.finish()
    }

    private func advance(model: LoadedModel, prefillChunk: Int) throws(TextGenerationError) -> (tokens: Int, done: Bool) {
        let prompt = prepared.promptTokens
        let session = self.session ?? model.model.makeSession()
        self.session = session
        if promptFed < prompt.count {
            // The session's own chunking is reproduced (same chunk boundaries), so the logits are
            // bit-identical to feeding the whole prompt at once.
            let end = min(promptFed + prefillChunk, prompt.count)
            let logits: [Float]
            do { logits = try session.append(Array(prompt[promptFed..<end])) } catch { throw .model(error) }
            promptFed = end
            if end == prompt.count { promptLogits = logits }
            return (0, false)
        }

        if run == nil {
            if sampleIndex > 0 {
                do { try session.rewind(to: prompt.count) } catch { throw .model(error) }
            }
            run = try SampleRun(prepared: prepared, model: model, index: sampleIndex, logits: promptLogits)
            if isCancelled { run?.sampling.cancel() }
        }
        guard let run else { return (0, false) }

        var produced = 0
        if !run.sampling.isFinished {
            try run.generateToken(logprobCount: logprobCount, model: model, continuation: continuation)
            produced = 1
            if !run.sampling.isFinished {
                if isCancelled {
                    run.sampling.cancel()
                } else {
                    do { run.logits = try session.append([run.lastToken]) } catch { throw .model(error) }
                }
            }
        }
        guard run.sampling.isFinished else { return (produced, false) }

        let outcome = run.finish(model: model, wantLogprobs: logprobCount != nil)
        completionTokens += outcome.tokens.count
        continuation.yield(.sampleFinished(outcome))
        self.run = nil
        sampleIndex += 1
        guard sampleIndex == prepared.parameters.numReturnSequences else { return (produced, false) }
        self.session = nil  // frees the KV cache now rather than when the handler lets go
        continuation.yield(.finished(RequestOutcome(promptTokens: prompt.count, completionTokens: completionTokens,
                                                    seed: prepared.seed)))
        continuation.finish()
        return (produced, true)
    }
}

/// One sample in progress.
private final class SampleRun {
    let index: Int
    let sampling: SamplingSession
    var detokenizer: StreamingDetokenizer
    var text: ReplyTextStream
    var logits: [Float]
    var lastToken = 0
    var pendingLogprobs: [TokenLogprob] = []
    var allLogprobs: [TokenLogprob] = []
    let format: PromptFormat

    init(prepared: PreparedGeneration, model: LoadedModel, index: Int, logits: [Float]) throws(TextGenerationError) {
        self.index = index
        do {
            sampling = try SamplingSession(parameters: prepared.parameters, promptTokens: prepared.promptTokens,
                                           seed: prepared.seed, sampleIndex: index)
        } catch {
            throw .parameters(error)
        }
        detokenizer = StreamingDetokenizer(tokenizer: model.tokenizer, skipSpecialTokens: model.preset.skipSpecialTokens)
        text = ReplyTextStream(format: prepared.format, parameters: prepared.parameters)
        format = prepared.format
        self.logits = logits
    }

    func generateToken(logprobCount: Int?, model: LoadedModel,
                       continuation: AsyncStream<ScheduledEvent>.Continuation) throws(TextGenerationError) {
        let raw = logprobCount == nil ? [] : logits
        let token: Int
        do { token = try sampling.nextToken(logits: &logits) } catch { throw .sampling(error) }
        lastToken = token
        let delta = detokenizer.add(token)
        sampling.accept(token, decodedText: delta)
        let offset = text.shownScalars
        let shown = text.push(delta)
        if let logprobCount {
            let tokenizer = model.tokenizer
            let entry = LogprobCalculator.logprob(of: token, logits: raw, top: logprobCount, text: {
                tokenizer.decode([$0], skipSpecialTokens: false)
            }, textOffset: offset)
            pendingLogprobs.append(entry)
            allLogprobs.append(entry)
        }
        if !shown.isEmpty {
            continuation.yield(.text(sample: index, text: shown, logprobs: pendingLogprobs))
            pendingLogprobs.removeAll()
        }
    }

    func finish(model: LoadedModel, wantLogprobs: Bool) -> SampleOutcome {
        let tail = text.finish(detokenizer.finish())
        // The returned text comes from one decode of all ids, as in `kataribe generate`.
        let raw = model.tokenizer.decode(Array(sampling.generatedTokens), skipSpecialTokens: model.preset.skipSpecialTokens)
        let result = sampling.result(text: raw)
        return SampleOutcome(
            index: index, text: ReplyTextFilter.display(result.text, format: format), tail: tail,
            tailLogprobs: pendingLogprobs, logprobs: wantLogprobs ? allLogprobs : nil,
            stopReason: result.stopReason, tokens: result.tokens)
    }
}
