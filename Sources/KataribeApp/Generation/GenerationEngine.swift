import Foundation
import KataribeGeneration
import KataribeModels
import KataribeTokenizers
import Synchronization

/// Runs the generation requests of one model together (continuous batching): every sequence in
/// flight advances by one token per forward step, which reads the weights once for all of them.
/// A request joins at the next step (its prompt computed once, on its own, and shared by all its
/// samples), and each sample leaves the batch when it stops.
///
/// Batching never changes a result: a sequence's logits are the same bits in any batch
/// (`SequenceBatch`), and each sample draws from its own seeded generator, so sample i of a
/// request with seed s is the same text alone, among its request's other samples, or beside
/// other requests.
///
/// The model runs on a thread of the engine's own (named `GenerationStream.threadName`), started
/// when work arrives and ended when there is none.
public final class GenerationEngine: Sendable {
    public let model: LoadedModel
    /// The most sequences (samples) in one forward step; requests beyond it wait their turn.
    public let maxSequences: Int

    private struct State {
        var waiting: [Job] = []
        var threadRunning = false
        var sequencesInFlight = 0
        var requestsInFlight = 0
    }

    private let state = Mutex(State())

    public init(model: LoadedModel, maxSequences: Int) {
        self.model = model
        self.maxSequences = max(1, maxSequences)
    }

    /// What the engine is doing now.
    public struct Load: Sendable, Equatable {
        /// Sequences in the running batch (slots in use).
        public var sequences: Int
        /// Requests with at least one sample in the batch or prefilled and waiting for a slot.
        public var requestsRunning: Int
        /// Requests submitted and not yet started.
        public var requestsWaiting: Int
    }

    public var load: Load {
        state.withLock { Load(sequences: $0.sequencesInFlight, requestsRunning: $0.requestsInFlight, requestsWaiting: $0.waiting.count) }
    }

    /// Runs a prepared request. Nothing runs until the stream is iterated; then the request waits
    /// for the engine (first come, first served) and joins its batch.
    public func stream(_ prepared: PreparedGeneration) -> GenerationStream {
        let channel = EventChannel()
        let job = Job(prepared: prepared, channel: channel)
        return GenerationStream(channel: channel) { [self] in submit(job) }
    }

    private func submit(_ job: Job) {
        let startThread = state.withLock { s -> Bool in
            s.waiting.append(job)
            defer { s.threadRunning = true }
            return !s.threadRunning
        }
        guard startThread else { return }
        let loop = Loop(engine: self)
        // swift-corelibs-foundation applies a thread's name only from the thread itself, and only once
        // start() has returned (before that the Thread does not know its pthread), hence the wait.
        let started = DispatchSemaphore(value: 0)
        let thread = Thread {
            started.wait()
            Thread.current.name = GenerationStream.threadName  // at most 15 bytes on Linux
            loop.run()
        }
        // The forward pass keeps big buffers on the heap; 8 MiB leaves room for deep call chains.
        thread.stackSize = 8 << 20
        thread.start()
        started.signal()
    }

    /// Takes waiting requests for the loop, or, when there is nothing at all to do, marks the thread
    /// as gone (atomically with the check, so a request submitted meanwhile starts a new thread).
    fileprivate func takeWaiting(limit: Int, idle: Bool) -> [Job]? {
        state.withLock { s -> [Job]? in
            if s.waiting.isEmpty && idle {
                s.threadRunning = false
                return nil
            }
            let taken = Array(s.waiting.prefix(limit))
            s.waiting.removeFirst(taken.count)
            return taken
        }
    }

    fileprivate func report(sequences: Int, requests: Int) {
        state.withLock {
            $0.sequencesInFlight = sequences
            $0.requestsInFlight = requests
        }
    }
}

/// A submitted request.
private final class Job: Sendable {
    let prepared: PreparedGeneration
    let channel: EventChannel

    init(prepared: PreparedGeneration, channel: EventChannel) {
        self.prepared = prepared
        self.channel = channel
    }
}

/// The engine thread's state: everything that touches the model lives here, on that one thread.
private final class Loop: @unchecked Sendable {  // used only by the engine thread after start
    private var engine: GenerationEngine?
    /// Let go (with the engine) before the last request hears its end.
    private var model: LoadedModel!
    private let maxSequences: Int
    private var batch: (any SequenceBatch)?
    /// Requests admitted, in arrival order, until their last sample finishes.
    private var requests: [RequestRun] = []
    /// The running batch.
    private var sequences: [SequenceRun] = []
    /// The last few prompts computed, newest first, for requests that repeat one.
    private var recentPrompts: [(tokens: [Int], session: any LanguageModelSession, logits: [Float])] = []

    init(engine: GenerationEngine) {
        self.engine = engine
        model = engine.model
        maxSequences = engine.maxSequences
    }

    func run() {
        var deliveries: [() -> Void] = []
        while true {
            let idle = requests.isEmpty
            // Requests are admitted while slots are free; a request admitted earlier still waiting
            // for slots for its later samples comes first.
            let room = requests.contains(where: \.hasUnstartedSamples) ? 0 : maxSequences - sequences.count
            guard let arrived = engine?.takeWaiting(limit: max(0, room), idle: idle) else { break }
            admit(arrived, deliveries: &deliveries)
            startSamples()
            engine?.report(sequences: sequences.count, requests: requests.count)
            if !sequences.isEmpty { advance() }
            completeFinishedRequests(deliveries: &deliveries)
            engine?.report(sequences: sequences.count, requests: requests.count)
            deliveries.forEach { $0() }
            deliveries.removeAll()
        }
        // Nothing refers to the model from this thread any more before the last consumer hears the
        // end: a caller that drops its model then (compare, before it loads the next) really frees it.
        batch = nil
        recentPrompts.removeAll()
        model = nil
        engine = nil
        deliveries.forEach { $0() }
    }

    /// Computes each arriving request's prompt once (the prompts of requests arriving together in
    /// shared forward steps); its samples fork from it. A prompt computed for a recent request
    /// (compare's samples of a cell are separate requests) is shared instead: its keys, values and
    /// logits are exactly what computing it again would give.
    private func admit(_ jobs: [Job], deliveries: inout [() -> Void]) {
        var fresh: [(job: Job, session: any LanguageModelSession)] = []
        var repeats: [(job: Job, of: Int)] = []
        for job in jobs {
            let tokens = job.prepared.promptTokens
            if let recent = recentPrompts.first(where: { $0.tokens == tokens }) {
                requests.append(RequestRun(job: job, prompt: recent.session, promptLogits: recent.logits, promptSeconds: 0))
            } else if let earlier = fresh.firstIndex(where: { $0.job.prepared.promptTokens == tokens }) {
                repeats.append((job, earlier))
            } else {
                let session = model.model.makeSession()
                session.reserveCapacity(tokens.count)
                fresh.append((job, session))
            }
        }
        guard !fresh.isEmpty else { return }
        if batch == nil { batch = model.model.makeBatch(capacity: maxSequences) }
        let start = ContinuousClock.now
        var logits: [Result<[Float], ModelError>]
        do {
            logits = try batch!.prefill(fresh.map(\.session), prompts: fresh.map(\.job.prepared.promptTokens)).map { .success($0) }
        } catch {
            // Prepared prompts fit, so this is rare: find out whose prompt it is, one at a time, in
            // fresh sessions (the failed step may have filled some).
            fresh = fresh.map { ($0.job, model.model.makeSession()) }
            logits = fresh.map { entry in Result { () throws(ModelError) -> [Float] in
                try entry.session.append(entry.job.prepared.promptTokens)
            } }
        }
        let seconds = Self.seconds(since: start)
        for (index, entry) in fresh.enumerated() {
            switch logits[index] {
            case .success(let row):
                requests.append(RequestRun(job: entry.job, prompt: entry.session, promptLogits: row, promptSeconds: seconds))
                recentPrompts.insert((entry.job.prepared.promptTokens, entry.session, row), at: 0)
                for repeated in repeats where repeated.of == index {
                    requests.append(RequestRun(job: repeated.job, prompt: entry.session, promptLogits: row, promptSeconds: 0))
                }
            case .failure(let error):
                for job in [entry.job] + repeats.filter({ $0.of == index }).map(\.job) {
                    deliveries.append { job.channel.finish(throwing: .model(error)) }
                }
            }
        }
        if recentPrompts.count > maxSequences { recentPrompts.removeLast(recentPrompts.count - maxSequences) }
    }

    /// Fills free slots with the next samples of admitted requests, in arrival order.
    private func startSamples() {
        for request in requests {
            // A request whose consumer went away reports its unstarted samples as cancelled, with
            // no tokens, without waiting for slots.
            while request.hasUnstartedSamples && request.job.channel.isCancelled && request.failure == nil {
                let index = request.nextSample
                request.nextSample += 1
                guard let sampling = try? SamplingSession(parameters: request.prepared.parameters,
                                                          promptTokens: request.prepared.promptTokens,
                                                          seed: request.prepared.seed, sampleIndex: index) else { continue }
                sampling.cancel()
                finish(SequenceRun(request: request, index: index, session: request.prompt, sampling: sampling, logits: [], model: model))
            }
            while request.hasUnstartedSamples && sequences.count < maxSequences {
                let index = request.nextSample
                request.nextSample += 1
                if request.firstSampleStart == nil { request.firstSampleStart = .now }
                let sampling: SamplingSession
                do {
                    sampling = try SamplingSession(parameters: request.prepared.parameters, promptTokens: request.prepared.promptTokens,
                                                   seed: request.prepared.seed, sampleIndex: index)
                } catch {
                    request.failure = .parameters(error)
                    request.nextSample = request.sampleCount
                    break
                }
                let session = request.prompt.fork()
                if let newTokens = try? request.prepared.parameters.maxNewTokens(promptLength: request.prepared.promptTokens.count) {
                    session.reserveCapacity(request.prepared.promptTokens.count + newTokens)
                }
                sequences.append(SequenceRun(request: request, index: index, session: session, sampling: sampling,
                                             logits: request.promptLogits, model: model))
            }
        }
    }

    /// Samples each sequence's next token from its logits, lets finished ones leave, and runs one
    /// forward step for the rest.
    private func advance() {
        var stepping: [SequenceRun] = [], tokens: [Int] = []
        for sequence in sequences {
            if sequence.request.failure == nil, let token = sequence.next() {
                stepping.append(sequence)
                tokens.append(token)
            } else {
                finish(sequence)
            }
        }
        sequences = stepping
        guard !stepping.isEmpty else { return }
        if batch == nil { batch = model.model.makeBatch(capacity: maxSequences) }
        do {
            let rows = try batch!.step(stepping.map(\.session), tokens: tokens)
            for (sequence, row) in zip(stepping, rows) { sequence.logits = row }
        } catch {
            // Budgets are checked when requests are prepared, so this is a bug or a broken model:
            // every request in the step fails rather than producing text from stale logits.
            for sequence in stepping {
                sequence.request.failure = sequence.request.failure ?? .model(error)
                sequence.logits = nil
            }
        }
        if let pause = stepping.compactMap(\.request.prepared.tokenPacing).max() {
            Thread.sleep(forTimeInterval: Self.seconds(pause))
        }
    }

    /// Requests whose samples have all finished (or that failed and have none left in the batch).
    private func completeFinishedRequests(deliveries: inout [() -> Void]) {
        for request in requests {
            let done = request.failure != nil
                ? !sequences.contains { $0.request === request }
                : !request.hasUnstartedSamples && request.samples.allSatisfy { $0 != nil }
            if done { complete(request, deliveries: &deliveries) }
        }
    }

    private func finish(_ sequence: SequenceRun) {
        let sample = sequence.finish()
        sequence.request.samples[sample.index] = sample
        if sequence.request.failure == nil { sequence.request.job.channel.send(.sampleFinished(sample)) }
    }

    /// Sends a finished request's summary (after the loop has let go of the model, when it is the last).
    private func complete(_ request: RequestRun, deliveries: inout [() -> Void]) {
        requests.removeAll { $0 === request }
        let channel = request.job.channel
        if let failure = request.failure {
            deliveries.append { channel.finish(throwing: failure) }
            return
        }
        let summary = request.summary()
        deliveries.append {
            channel.send(.finished(summary))
            channel.finish()
        }
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double { seconds(ContinuousClock.now - start) }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }
}

/// A request in the engine: its shared prompt and its samples.
private final class RequestRun {
    let job: Job
    var prepared: PreparedGeneration { job.prepared }
    /// Holds the prompt's keys and values, which every sample's session shares.
    let prompt: any LanguageModelSession
    let promptLogits: [Float]
    let promptSeconds: Double
    let sampleCount: Int
    var nextSample = 0
    var samples: [GeneratedSample?]
    var firstSampleStart: ContinuousClock.Instant?
    var failure: TextGenerationError?

    init(job: Job, prompt: any LanguageModelSession, promptLogits: [Float], promptSeconds: Double) {
        self.job = job
        self.prompt = prompt
        self.promptLogits = promptLogits
        self.promptSeconds = promptSeconds
        sampleCount = job.prepared.parameters.numReturnSequences
        samples = Array(repeating: nil, count: sampleCount)
    }

    var hasUnstartedSamples: Bool { nextSample < sampleCount }

    func summary() -> GenerationSummary {
        let finished = samples.compactMap { $0 }
        // Samples of one request overlap in time: their speed is tokens over the wall time they
        // took together, not over the sum of their durations.
        let generationSeconds = firstSampleStart.map { Loop.seconds(since: $0) } ?? 0
        let timing = GenerationTiming(promptTokens: prepared.promptTokens.count, promptSeconds: promptSeconds,
                                      generatedTokens: finished.reduce(0) { $0 + $1.tokens.count }, generationSeconds: generationSeconds)
        return GenerationSummary(samples: finished, promptTokens: prepared.promptTokens, droppedPromptTokens: prepared.droppedPromptTokens,
                                 droppedTurns: prepared.droppedTurns, seed: prepared.seed, timing: timing)
    }
}

/// One sample in the batch: the same sampling loop `kataribe generate` always ran (the sampler
/// chain, the streaming detokenizer, stop strings, the reply filter), one token per step.
private final class SequenceRun {
    let request: RequestRun
    let index: Int
    let session: any LanguageModelSession
    let sampling: SamplingSession
    /// The logits to sample the next token from; nil once stepping failed.
    var logits: [Float]?
    private var detokenizer: StreamingDetokenizer
    private var text: SampleTextStream
    private let start = ContinuousClock.now
    private let model: LoadedModel

    init(request: RequestRun, index: Int, session: any LanguageModelSession, sampling: SamplingSession, logits: [Float],
         model: LoadedModel) {
        self.request = request
        self.index = index
        self.session = session
        self.sampling = sampling
        self.logits = logits
        self.model = model
        detokenizer = StreamingDetokenizer(tokenizer: model.tokenizer,
                                           skipSpecialTokens: request.prepared.skipSpecialTokens ?? model.preset.skipSpecialTokens)
        text = SampleTextStream(format: request.prepared.format, parameters: request.prepared.parameters)
    }

    private var channel: EventChannel { request.job.channel }

    /// Samples and reports the next token; returns it when the sequence goes on (it is then run
    /// through the model in the next step), nil when the sample has finished.
    func next() -> Int? {
        if channel.isCancelled { sampling.cancel() }
        guard !sampling.isFinished, var current = logits else { return nil }
        let token: Int
        do { token = try sampling.nextToken(logits: &current) } catch {
            request.failure = request.failure ?? .sampling(error)
            return nil
        }
        logits = nil
        let delta = detokenizer.add(token)
        sampling.accept(token, decodedText: delta)
        emit(text.push(delta))
        if sampling.isFinished { return nil }
        if channel.isCancelled {
            sampling.cancel()
            return nil
        }
        return token
    }

    func finish() -> GeneratedSample {
        if logits == nil && !sampling.isFinished { sampling.cancel() }
        emit(text.finish(detokenizer.finish()))
        let skipSpecial = request.prepared.skipSpecialTokens ?? model.preset.skipSpecialTokens
        // The text comes from one decode of all ids, which is what transformers' callers print.
        let raw = model.tokenizer.decode(Array(sampling.generatedTokens), skipSpecialTokens: skipSpecial)
        let result = sampling.result(text: raw)
        return GeneratedSample(
            index: index, seed: result.seed, tokens: result.tokens,
            text: ReplyTextFilter.display(result.text, format: request.prepared.format), rawText: raw,
            stopReason: result.stopReason,
            stopString: result.stopReason == .stopString ? sampling.stopMatcher.matchedStopString : nil,
            seconds: Loop.seconds(since: start))
    }

    private func emit(_ chunk: String) {
        if !chunk.isEmpty && request.failure == nil { channel.send(.text(chunk, sample: index)) }
    }
}
