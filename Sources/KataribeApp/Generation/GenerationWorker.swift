import Foundation
import KataribeGeneration
import KataribeModels
import KataribeTokenizers
import Synchronization

/// The synchronous generation loop, run on the stream's own thread. The prompt is processed once;
/// each sample then rewinds the session to the prompt and continues from the saved logits, so `n`
/// samples cost one prompt evaluation.
struct GenerationWorker {
    let model: LoadedModel
    let prepared: PreparedGeneration
    let channel: EventChannel

    /// Runs the worker `handoff` holds and then ends its stream. The worker, and with it the model, is
    /// let go before the consumer hears the end: a caller that drops its last reference to the model
    /// once the stream ends (compare, before it loads the next model) then really frees it, rather
    /// than racing this thread's release of it.
    static func run(_ handoff: Handoff, channel: EventChannel) {
        switch handoff.generate() {
        case .success(let summary)?:
            channel.send(.finished(summary))
            channel.finish()
        case .failure(let error)?:
            channel.finish(throwing: error)
        case nil:
            channel.finish()
        }
    }

    /// Holds the worker until its thread takes it, so the thread's closure does not keep it.
    final class Handoff: Sendable {
        private let worker: Mutex<GenerationWorker?>

        init(_ worker: GenerationWorker) { self.worker = Mutex(worker) }

        /// Runs the worker once; it is released when this returns.
        func generate() -> Result<GenerationSummary, TextGenerationError>? {
            guard let worker = worker.withLock({ w -> GenerationWorker? in defer { w = nil }; return w }) else { return nil }
            do { return .success(try worker.generate()) } catch { return .failure(error) }
        }
    }

    func generate() throws(TextGenerationError) -> GenerationSummary {
        let prompt = prepared.promptTokens
        let session = model.model.makeSession()
        // The whole reply's cache up front; an invalid limit is reported by the sampling session.
        if let newTokens = try? prepared.parameters.maxNewTokens(promptLength: prompt.count) {
            session.reserveCapacity(prompt.count + newTokens)
        }
        let promptStart = ContinuousClock.now
        let promptLogits: [Float]
        do { promptLogits = try session.append(prompt) } catch { throw .model(error) }
        let promptSeconds = Self.seconds(since: promptStart)

        var samples: [GeneratedSample] = []
        for index in 0..<prepared.parameters.numReturnSequences {
            if index > 0 {
                do { try session.rewind(to: prompt.count) } catch { throw .model(error) }
            }
            samples.append(try generateSample(index: index, session: session, promptLogits: promptLogits))
        }
        let timing = GenerationTiming(
            promptTokens: prompt.count, promptSeconds: promptSeconds,
            generatedTokens: samples.reduce(0) { $0 + $1.tokens.count },
            generationSeconds: samples.reduce(0) { $0 + $1.seconds })
        return GenerationSummary(samples: samples, promptTokens: prompt, droppedPromptTokens: prepared.droppedPromptTokens,
                                 droppedTurns: prepared.droppedTurns, seed: prepared.seed, timing: timing)
    }

    private func generateSample(index: Int, session: any LanguageModelSession, promptLogits: [Float]) throws(TextGenerationError) -> GeneratedSample {
        let start = ContinuousClock.now
        let sampling: SamplingSession
        do {
            sampling = try SamplingSession(parameters: prepared.parameters, promptTokens: prepared.promptTokens,
                                           seed: prepared.seed, sampleIndex: index)
        } catch {
            throw .parameters(error)
        }
        let skipSpecial = model.preset.skipSpecialTokens
        var detokenizer = StreamingDetokenizer(tokenizer: model.tokenizer, skipSpecialTokens: skipSpecial)
        var text = SampleTextStream(format: prepared.format, parameters: prepared.parameters)
        var logits = promptLogits
        if channel.isCancelled { sampling.cancel() }
        while !sampling.isFinished {
            let token: Int
            do { token = try sampling.nextToken(logits: &logits) } catch { throw .sampling(error) }
            let delta = detokenizer.add(token)
            sampling.accept(token, decodedText: delta)
            emit(text.push(delta), sample: index)
            if sampling.isFinished { break }
            if channel.isCancelled {
                sampling.cancel()
                break
            }
            do { logits = try session.append([token]) } catch { throw .model(error) }
            if let pause = prepared.tokenPacing { Thread.sleep(forTimeInterval: Double(pause.components.seconds) + Double(pause.components.attoseconds) * 1e-18) }
        }
        emit(text.finish(detokenizer.finish()), sample: index)

        // The text comes from one decode of all ids, which is what transformers' callers print.
        let raw = model.tokenizer.decode(Array(sampling.generatedTokens), skipSpecialTokens: skipSpecial)
        let result = sampling.result(text: raw)
        let sample = GeneratedSample(
            index: index, seed: result.seed, tokens: result.tokens,
            text: ReplyTextFilter.display(result.text, format: prepared.format), rawText: raw,
            stopReason: result.stopReason,
            stopString: result.stopReason == .stopString ? sampling.stopMatcher.matchedStopString : nil,
            seconds: Self.seconds(since: start))
        channel.send(.sampleFinished(sample))
        return sample
    }

    private func emit(_ text: String, sample: Int) {
        if !text.isEmpty { channel.send(.text(text, sample: sample)) }
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    }
}

/// Turns a sample's decoded deltas into the chunks a user sees: under `.strip`, text that is or may
/// become a stop string is held back (and never shown once matched); then the prompt format's reply
/// conventions apply (`ReplyTextFilter`).
struct SampleTextStream {
    private var filter: ReplyTextFilter
    private var matcher: StopStringMatcher?
    private var shownScalars = 0

    init(format: PromptFormat, parameters: ResolvedGenerationParameters) {
        filter = ReplyTextFilter(format: format)
        if parameters.stopStringHandling == .strip && !parameters.stopStrings.isEmpty {
            matcher = StopStringMatcher(stopStrings: parameters.stopStrings)
        }
    }

    mutating func push(_ delta: String) -> String {
        guard var m = matcher else { return filter.push(delta) }
        m.append(delta)
        matcher = m
        return filter.push(release(upTo: m.safePrefixLength))
    }

    /// `tail`: the detokenizer's held-back text at the end.
    mutating func finish(_ tail: String) -> String {
        var out = ""
        if var m = matcher {
            m.append(tail)
            matcher = m
            out += filter.push(release(upTo: m.matchStart ?? m.scalars.count))
        } else {
            out += filter.push(tail)
        }
        return out + filter.finish()
    }

    private mutating func release(upTo end: Int) -> String {
        guard let m = matcher, end > shownScalars else { return "" }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: m.scalars[shownScalars..<end])
        shownScalars = end
        return String(view)
    }
}
