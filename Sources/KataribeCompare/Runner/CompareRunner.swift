import Foundation
import KataribeGeneration

/// Runs the pending samples of a plan, one model at a time, appending each result to the store as
/// soon as it exists.
///
/// - A sample is pending when the store has no `sample` record with its cell key and index (so
///   changing a cell's settings makes its samples pending again, see `CellKey`).
/// - Models with nothing pending are not loaded. A model that fails to load gets an `error` record
///   for each of its pending samples; a sample that fails gets one `error` record; the run goes on.
/// - Cancellation (Ctrl-C) stops before the next sample; finished samples are already durable.
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
                session = try await backend.load(model)
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

            for (cell, index) in samples {
                if Task.isCancelled { result.cancelled = true; break }
                onEvent(.sampleStarted(label: model.label, promptID: cell.promptID, sampleIndex: index))
                var parameters = cell.parameters
                parameters.seed = cell.seed(sample: index)
                parameters.numReturnSequences = nil
                let request = SampleRequest(modelLabel: model.label, promptID: cell.promptID, sampleIndex: index,
                                            prompt: cell.prompt, parameters: parameters, preset: model.preset)
                let started = ContinuousClock.now
                do {
                    let label = model.label
                    let output = try await session.generate(request) { tokens in
                        onEvent(.sampleProgress(label: label, tokens: tokens))
                    }
                    // A sample cut short by cancellation is not a result; the rerun redoes it.
                    if Task.isCancelled || output.stopReason == StopReason.cancelled.rawValue { result.cancelled = true; break }
                    let seconds = (ContinuousClock.now - started).seconds
                    let record = sampleRecord(model, cell, request, output, session.backendName, loadSeconds, seconds)
                    try store.append(.sample(record))
                    result.finishedNow += 1
                    onEvent(.sampleFinished(record))
                } catch let error as ResultsStoreError {
                    await session.close()
                    throw error
                } catch {
                    if error is CancellationError || Task.isCancelled { result.cancelled = true; break }
                    let record = errorRecord(cell, index, .generate, String(describing: error))
                    try store.append(.error(record))
                    result.failures.append(record)
                    onEvent(.sampleFailed(record))
                }
            }
            await session.close()
            onEvent(.modelClosed(label: model.label))
            if result.cancelled { break }
        }
        return result
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
