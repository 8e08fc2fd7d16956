import Foundation
import KataribeGeneration

/// Runs the pending samples of a plan, one model at a time, appending each result to the store as
/// soon as it exists.
///
/// - A sample is pending when the store has no `sample` record with its cell key and index (so
///   changing a cell's settings makes its samples pending again, see `CellKey`).
/// - Models with nothing pending are not loaded. A model that fails to load gets an `error` record
///   for each of its pending samples; a sample that fails gets one `error` record; the run goes on.
/// - Up to the session's `maxConcurrentSamples` samples of the loaded model are generated at once,
///   started in plan order, the next as soon as one finishes. Each is stored when it finishes, so the
///   store's order is finishing order; reports arrange samples by the plan, never by that order.
/// - Cancellation (Ctrl-C) starts no further sample; a sample cut short is not recorded, finished
///   samples are already durable.
public struct CompareRunner: Sendable {
    public let plan: ComparePlan
    public let backend: any CompareBackend
    public let store: ResultsStore
    public let selection: CompareSelection
    /// Recorded with every sample.
    public let kataribeVersion: String

    public init(plan: ComparePlan, backend: any CompareBackend, store: ResultsStore,
                selection: CompareSelection = CompareSelection(), kataribeVersion: String) {
        self.plan = plan
        self.backend = backend
        self.store = store
        self.selection = selection
        self.kataribeVersion = kataribeVersion
    }

    /// The selected samples not yet finished, grouped by model in plan order (cells prompt-major).
    public func pendingWork() -> [(model: PlannedModel, samples: [(cell: PlannedCell, index: Int)])] {
        plan.models.filter { selection.models?.contains($0.label) ?? true }.map { model in
            let cells = plan.cells.filter { $0.modelLabel == model.label && selection.includes($0) }
            let samples = cells.flatMap { cell in
                (0..<plan.samples).filter { !store.isFinished(cellKey: cell.key, sampleIndex: $0) }.map { (cell, $0) }
            }
            return (model, samples)
        }
    }

    /// Runs everything pending. Throws only when the store cannot be written (nothing could be kept).
    public func run(onEvent: @escaping @Sendable (CompareEvent) -> Void = { _ in }) async throws(ResultsStoreError) -> CompareRunResult {
        let work = pendingWork()
        let selectedTotal = plan.cells.filter { selection.includes($0) }.count * plan.samples
        let pending = work.reduce(0) { $0 + $1.samples.count }
        var result = CompareRunResult(pending: pending, alreadyFinished: selectedTotal - pending)
        onEvent(.started(pending: pending, alreadyFinished: selectedTotal - pending))

        for (model, samples) in work {
            if Task.isCancelled { result.cancelled = true; break }
            if samples.isEmpty { onEvent(.modelSkipped(label: model.label)); continue }
            onEvent(.modelLoading(label: model.label, pending: samples.count))
            let loadStart = ContinuousClock.now
            let session: any CompareModelSession
            do {
                session = try await backend.load(model, samplesPerCell: plan.samples)
            } catch {
                if error is CancellationError || Task.isCancelled { result.cancelled = true; break }
                let message = String(describing: error)
                onEvent(.modelFailed(label: model.label, message: message, samples: samples.count))
                for (cell, index) in samples {
                    let record = errorRecord(cell, index, .load, message)
                    try store.append(.error(record))
                    result.failures.append(record)
                }
                continue
            }
            let loadSeconds = (ContinuousClock.now - loadStart).seconds
            onEvent(.modelLoaded(label: model.label, seconds: loadSeconds))

            let run = await runSamples(samples, of: model, on: session, loadSeconds: loadSeconds, onEvent: onEvent)
            await session.close()
            if let storeError = run.storeError { throw storeError }
            result.finishedNow += run.finished
            result.failures += run.failures
            onEvent(.modelClosed(label: model.label))
            if run.cancelled || Task.isCancelled { result.cancelled = true; break }
        }
        return result
    }

    /// What running one loaded model's samples did.
    private struct ModelRun {
        var finished = 0
        /// In plan order, whatever order the samples finished in.
        var failures: [ErrorRecord] = []
        var cancelled = false
        /// The first write that failed; the model's other samples were cancelled.
        var storeError: ResultsStoreError?
    }

    private enum SampleOutcome: Sendable {
        case finished
        case failed(ErrorRecord)
        /// Cut short or discarded because the run is being cancelled; not recorded.
        case cancelled
        case storeFailed(ResultsStoreError)
    }

    /// Runs `samples` on `session`, keeping up to `maxConcurrentSamples` in flight, started in plan order.
    private func runSamples(_ samples: [(cell: PlannedCell, index: Int)], of model: PlannedModel, on session: any CompareModelSession,
                            loadSeconds: Double, onEvent: @escaping @Sendable (CompareEvent) -> Void) async -> ModelRun {
        let limit = max(1, session.maxConcurrentSamples)
        return await withTaskGroup(of: (position: Int, outcome: SampleOutcome).self) { group in
            var run = ModelRun()
            var failures: [(position: Int, record: ErrorRecord)] = []
            var next = 0
            var inFlight = 0
            var stopping = false
            while true {
                while !stopping, inFlight < limit, next < samples.count {
                    if Task.isCancelled { run.cancelled = true; stopping = true; break }
                    let (cell, index) = samples[next]
                    let position = next
                    next += 1
                    inFlight += 1
                    onEvent(.sampleStarted(label: model.label, promptID: cell.promptID, sampleIndex: index))
                    group.addTask {
                        (position, await runSample(cell, index, of: model, on: session, loadSeconds: loadSeconds, onEvent: onEvent))
                    }
                }
                guard let (position, outcome) = await group.next() else { break }
                inFlight -= 1
                switch outcome {
                case .finished:
                    run.finished += 1
                case .failed(let record):
                    failures.append((position, record))
                case .cancelled:
                    run.cancelled = true
                    stopping = true
                case .storeFailed(let error):
                    // Nothing more can be kept, so the samples still running would only be wasted work.
                    if run.storeError == nil { run.storeError = error }
                    stopping = true
                    group.cancelAll()
                }
            }
            run.failures = failures.sorted { $0.position < $1.position }.map(\.record)
            return run
        }
    }

    /// Generates one sample and stores its record or its error.
    private func runSample(_ cell: PlannedCell, _ index: Int, of model: PlannedModel, on session: any CompareModelSession,
                           loadSeconds: Double, onEvent: @escaping @Sendable (CompareEvent) -> Void) async -> SampleOutcome {
        var parameters = cell.parameters
        parameters.seed = cell.seed(sample: index)
        parameters.numReturnSequences = nil
        let request = SampleRequest(modelLabel: model.label, promptID: cell.promptID, sampleIndex: index,
                                    prompt: cell.prompt, parameters: parameters, preset: model.preset)
        let started = ContinuousClock.now
        let output: SampleOutput
        do {
            output = try await session.generate(request) { tokens in
                onEvent(.sampleProgress(label: model.label, promptID: cell.promptID, sampleIndex: index, tokens: tokens))
            }
        } catch {
            if error is CancellationError || Task.isCancelled { return .cancelled }
            let record = errorRecord(cell, index, .generate, String(describing: error))
            do { try store.append(.error(record)) } catch { return .storeFailed(error) }
            onEvent(.sampleFailed(record))
            return .failed(record)
        }
        // A sample cut short by cancellation is not a result; the rerun redoes it.
        if Task.isCancelled || output.stopReason == StopReason.cancelled.rawValue { return .cancelled }
        let seconds = (ContinuousClock.now - started).seconds
        let record = sampleRecord(model, cell, request, output, session.backendName, loadSeconds, seconds)
        do { try store.append(.sample(record)) } catch { return .storeFailed(error) }
        onEvent(.sampleFinished(record))
        return .finished
    }

    private func errorRecord(_ cell: PlannedCell, _ index: Int, _ stage: ErrorRecord.Stage, _ message: String) -> ErrorRecord {
        ErrorRecord(cellKey: cell.key, promptID: cell.promptID, modelLabel: cell.modelLabel, sampleIndex: index,
                    stage: stage, message: message, kataribeVersion: kataribeVersion, at: Timestamp.now())
    }

    private func sampleRecord(_ model: PlannedModel, _ cell: PlannedCell, _ request: SampleRequest, _ output: SampleOutput,
                              _ backendName: String, _ loadSeconds: Double, _ seconds: Double) -> SampleRecord {
        SampleRecord(
            cellKey: cell.key, promptID: cell.promptID, promptTitle: plan.prompt(cell.promptID)?.title ?? cell.promptID,
            modelLabel: model.label, source: model.source, sampleIndex: request.sampleIndex, seed: request.seed,
            parameters: request.parameters, settings: ModelSettings(model.preset, weightFormat: model.weightFormat), prompt: cell.prompt,
            output: output.text, display: PromptText.display(output: output.text, sentPrompt: cell.prompt, preset: model.preset),
            promptTokens: output.promptTokens, outputTokens: output.outputTokens, stopReason: output.stopReason,
            timings: SampleTimings(loadSeconds: loadSeconds, firstTokenSeconds: output.firstTokenSeconds, generationSeconds: seconds,
                                   tokensPerSecond: seconds > 0 ? Double(output.outputTokens) / seconds : 0),
            backend: backendName, kataribeVersion: kataribeVersion, finishedAt: Timestamp.now())
    }
}

/// What one run did.
public struct CompareRunResult: Sendable, Equatable {
    /// Samples this run had to do.
    public var pending: Int
    /// Selected samples finished by earlier runs (skipped).
    public var alreadyFinished: Int
    public var finishedNow = 0
    public var failures: [ErrorRecord] = []
    /// Stopped early by cancellation (Ctrl-C); rerun to continue.
    public var cancelled = false

    public init(pending: Int, alreadyFinished: Int) {
        self.pending = pending
        self.alreadyFinished = alreadyFinished
    }
}

extension Duration {
    var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) * 1e-18
    }
}
