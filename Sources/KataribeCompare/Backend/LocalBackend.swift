import Foundation
import KataribeApp
import KataribeGeneration
import KataribeModels

/// Runs models in this process through KataribeApp, so a compare sample is exactly what
/// `kataribe generate` prints for the same prompt, settings and seed.
public struct LocalBackend: CompareBackend {
    public var resolver: ModelResolver
    /// Forward-pass threads; nil uses every core.
    public var threads: Int?
    /// Samples of one model generated together (`--batch`); nil: the samples of a cell. Larger values
    /// also batch cells of the same model.
    public var batch: Int?
    /// Where a suite's `dtype: q8`/`q4` weights are saved and found again, as `--dtype` uses it
    /// (nil quantizes at every load).
    public var quantizedCache: QuantizedCache?
    /// Receives loading's one-line notes (a folder that matches no preset); stderr by default.
    public var notices: @Sendable (String) -> Void

    public init(resolver: ModelResolver = ModelResolver(), threads: Int? = nil, batch: Int? = nil,
                quantizedCache: QuantizedCache? = .standard,
                notices: @escaping @Sendable (String) -> Void = ModelLoadOptions.standardError) {
        self.resolver = resolver
        self.threads = threads
        self.batch = batch
        self.quantizedCache = quantizedCache
        self.notices = notices
    }

    public func load(_ model: PlannedModel, samplesPerCell: Int) async throws -> any CompareModelSession {
        guard case .local(let reference) = model.source else {
            throw UnavailableBackend.Unavailable(description: "\(model.label): not an in-process model")
        }
        let location = try await resolver.locate(reference)
        // The plan's preset (suite and command-line overrides included) decides how the model is run,
        // not whatever the resolver would match now: it is what the cell keys were computed from.
        let options = ModelLoadOptions(threads: threads, weightFormat: model.weightFormat,
                                       quantizedCache: model.weightFormat?.isQuantized == true ? quantizedCache : nil,
                                       notices: notices)
        let loaded = try LoadedModel(folder: location.folder, preset: model.preset, name: model.label,
                                     presetOrigin: model.presetOrigin, options: options)
        // One engine for the model: the samples the runner has in flight share its forward steps
        // (and a cell's samples its prompt), with the texts they would have alone.
        let concurrency = max(1, batch ?? samplesPerCell)
        return Session(generator: TextGenerator(model: loaded, sharedBatch: concurrency), maxConcurrentSamples: concurrency)
    }

    struct Session: CompareModelSession {
        let generator: TextGenerator
        /// Samples given to the generator at once, so that it can decode them as one batch.
        let maxConcurrentSamples: Int
        var backendName: String { "local" }

        func generate(_ request: SampleRequest, progress: @escaping @Sendable (Int) -> Void) async throws -> SampleOutput {
            // The plan already applied the chat format, so the text goes in as it is; the report turns
            // the raw reply into display text the way the format says. The model's own chat template is
            // the exception: only the loaded model has it, so the plan keeps the instruction as typed
            // and it is rendered here (`PromptText.asSent`).
            let format: PromptFormat? = request.preset.promptFormat.isUnresolvedModelTemplate ? nil : .plain
            let prepared = try generator.prepare(.text(request.prompt), parameters: generator.model.parameters(request.parameters),
                                                 options: GenerationOptions(format: format))
            let started = ContinuousClock.now
            var firstText: Duration?
            var chunks = 0
            var sample: GeneratedSample?
            for try await event in generator.stream(prepared) {
                switch event {
                case .text:
                    if firstText == nil { firstText = ContinuousClock.now - started }
                    // A chunk per token at most (byte pieces of one character give one chunk), so this
                    // never runs ahead of the exact count reported at the end.
                    chunks += 1
                    progress(chunks)
                case .sampleFinished(let finished):
                    sample = finished
                case .finished:
                    break
                }
            }
            guard let sample else { throw CancellationError() }
            progress(sample.tokens.count)
            return SampleOutput(text: sample.rawText, promptTokens: prepared.promptTokens.count,
                                outputTokens: sample.tokens.count, stopReason: sample.stopReason.rawValue,
                                firstTokenSeconds: firstText?.seconds)
        }

        func close() async {}
    }
}
