import ArgumentParser
import Foundation
import KataribeApp
import KataribeModels
import KataribeTensor

/// `kataribe bench --model M [--dtype q8] [--prompt-tokens 128] [--gen-tokens 64] [--threads N] [--context 1024]
/// [--batch 1,2,4,8,16] [--json]`
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure load time, prompt and generation speed, and peak memory of a model.",
        discussion: """
        Token ids are random (seeded), so no tokenizer is needed. Prompt speed is one batched pass over \
        --prompt-tokens; generation speed is --gen-tokens single-token steps after it. The long-context \
        figure generates --gen-tokens steps after --context positions whose KV cache is filled with \
        random numbers instead of computed (attention costs the same either way). --batch B generates \
        --gen-tokens steps for B sequences forked from the prompt at once (one forward step advances all B, \
        reading the weights once) and reports their total and per-sequence speed and the total's ratio to \
        B = 1; a list (--batch 1,2,4,8,16) measures each. Peak memory is the process's VmHWM. See \
        docs/benchmarks.md for the comparison with llama.cpp and transformers.
        """)

    @OptionGroup var location: ModelLocationArguments

    @Option(name: .long, help: "Weight format: f32, f16, bf16, q8, q4 (default: as stored).")
    var dtype: String?

    @Option(name: .customLong("prompt-tokens"), help: "Tokens in the prompt pass.")
    var promptTokens = 128

    @Option(name: .customLong("gen-tokens"), help: "Tokens generated one at a time.")
    var genTokens = 64

    @Option(name: .long, help: "Worker threads (default: one per core).")
    var threads: Int?

    // Optional so that only a context asked for is held to the model's limit: the default is cut to
    // what a small model has, as it always was.
    @Option(name: .long, help: "Context length for the long-context generation figure (default 1024, at most the model's; 0 skips it).")
    var context: Int?

    @Option(name: .customLong("kv-cache"), help: "KV cache element type: f32 or f16 (default: f32 for float weights, f16 for q8/q4).")
    var kvCache: String?

    @Option(name: .customLong("quantized-cache"), help: "Directory for saved quantized models (default: ~/.cache/kataribe/quantized).")
    var quantizedCache: String?

    @Flag(name: .customLong("no-quantized-cache"), help: "Quantize at load without saving or reusing a quantized model.")
    var noQuantizedCache = false

    @Option(name: .customLong("batch-tokens"), help: ArgumentHelp("Tokens per prompt forward chunk.", visibility: .hidden))
    var batchTokens: Int?

    @Option(name: .long, help: "Sequences decoded together after the prompt: a number or a list (1,2,4,8,16).")
    var batch: String?

    @Option(name: .long, help: "Seed for the random token ids.")
    var seed: UInt64 = 1

    @Flag(name: .long, help: "Print one JSON object (keys in docs/benchmarks.md).")
    var json = false

    func validate() throws {
        try ModelNames.validate(dtype: dtype)
        if let kvCache, KVCacheFormat(rawValue: kvCache) == nil { throw ValidationError("--kv-cache must be f32 or f16") }
        guard promptTokens >= 1 else { throw ValidationError("--prompt-tokens must be at least 1") }
        guard genTokens >= 1 else { throw ValidationError("--gen-tokens must be at least 1") }
        if let context, context < 0 { throw ValidationError("--context must be 0 or more") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if let batchTokens, batchTokens < 1 { throw ValidationError("--batch-tokens must be at least 1") }
        if let batch, Self.batchSizes(batch) == nil {
            throw ValidationError("--batch must be a number of sequences or a comma-separated list of them, each 1 to 256 (e.g. 1,2,4,8,16)")
        }
    }

    static let defaultContext = 1024

    static func batchSizes(_ text: String) -> [Int]? {
        let sizes = text.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !sizes.isEmpty, sizes.allSatisfy({ $0 != nil && (1...256).contains($0!) }) else { return nil }
        return sizes.map { $0! }
    }

    func run() async throws {
        let folder = await location.locate()
        let progress = BenchProgress(enabled: !json && Terminal.stderrTakesEscapes)
        var options = LoadOptions(parallelism: threads.map { Parallelism(threadCount: $0) } ?? .automatic)
        options.weightFormat = dtype.flatMap(WeightFormat.init(dtypeName:))
        options.kvCacheFormat = kvCache.flatMap { KVCacheFormat(rawValue: $0) }
        if let batchTokens { options.batchCapacity = batchTokens }
        if options.weightFormat?.isQuantized == true, !noQuantizedCache {
            options.quantizedCache = quantizedCache.map { QuantizedCache(directory: URL(fileURLWithPath: $0)) } ?? .standard
        }
        let report: BenchReport
        do {
            report = try BenchReport.measure(directory: folder, options: options, promptTokens: promptTokens,
                                             genTokens: genTokens, context: context ?? Self.defaultContext, contextIsExplicit: context != nil,
                                             batches: batch.flatMap(Self.batchSizes) ?? [], seed: seed, progress: progress)
        } catch {
            progress.clear()
            CLIOutput.fail("\(error)")
        }
        progress.clear()
        if json { CLIOutput.printJSON(report) } else { report.printTable() }
    }
}

/// The `kataribe bench --json` document.
struct BenchReport: Encodable {
    var model: String
    var weightFormat: String
    var kvCache: String
    var weightSource: String
    var threads: Int
    var instructionSet: String
    /// Whether bfloat16 prompts run on AVX-512 BF16.
    var bf16Products: Bool
    var promptTokens: Int
    var genTokens: Int
    var context: Int
    var loadSeconds: Double
    var promptTokensPerSecond: Double
    var generationTokensPerSecond: Double
    var longContextTokensPerSecond: Double?
    var longContextRatio: Double?
    var batches: [BatchFigure]?
    var weightMemoryBytes: Int
    var peakRSSBytes: Int

    /// B sequences decoded together.
    struct BatchFigure: Encodable {
        var sequences: Int
        /// Tokens of all B sequences per second.
        var totalTokensPerSecond: Double
        var perSequenceTokensPerSecond: Double
        /// The total over `generationTokensPerSecond` (one sequence alone).
        var ratio: Double
        /// KV cache bytes each sequence allocated for its own tokens (the shared prompt is held once).
        var kvBytesPerSequence: Int
        var sharedPromptKVBytes: Int

        enum CodingKeys: String, CodingKey {
            case sequences, ratio
            case totalTokensPerSecond = "total_tokens_per_second", perSequenceTokensPerSecond = "per_sequence_tokens_per_second"
            case kvBytesPerSequence = "kv_bytes_per_sequence", sharedPromptKVBytes = "shared_prompt_kv_bytes"
        }
    }

    enum CodingKeys: String, CodingKey {
        case model, threads, context, batches
        case weightFormat = "weight_format", kvCache = "kv_cache", weightSource = "weight_source"
        case instructionSet = "instruction_set", bf16Products = "bf16_products", promptTokens = "prompt_tokens", genTokens = "gen_tokens"
        case loadSeconds = "load_seconds", promptTokensPerSecond = "prompt_tokens_per_second"
        case generationTokensPerSecond = "generation_tokens_per_second"
        case longContextTokensPerSecond = "long_context_tokens_per_second", longContextRatio = "long_context_ratio"
        case weightMemoryBytes = "weight_memory_bytes", peakRSSBytes = "peak_rss_bytes"
    }

    /// The linear layers' format, or every block format of a mixed GGUF file (`q4_k+q5_0+...`),
    /// largest share first.
    static func formatName(_ model: any TransformerModel) -> String {
        let ggml = model.weightFormats.filter { $0.key.isGGML }.sorted { $0.value > $1.value }.map(\.key.rawValue)
        return ggml.count > 1 ? ggml.joined(separator: "+") : model.linearWeightFormat.rawValue
    }

    /// `contextIsExplicit`: `context` was asked for, so a model too small for it is an error; the
    /// default is cut to what the model has.
    static func measure(
        directory: URL, options: LoadOptions, promptTokens: Int, genTokens: Int, context: Int, contextIsExplicit: Bool,
        batches: [Int], seed: UInt64, progress: BenchProgress
    ) throws -> BenchReport {
        progress.show("loading \(directory.lastPathComponent)")
        let start = Date()
        let model = try ModelLoader.load(directory: directory, options: options)
        let loadSeconds = Date().timeIntervalSince(start)
        var random = SplitMix(seed: seed)
        func ids(_ count: Int) -> [Int] { (0..<count).map { _ in Int(random.next() % UInt64(model.vocabularySize)) } }
        let limit = model.contextLength
        guard promptTokens + genTokens <= limit else {
            throw ModelError.contextOverflow(needed: promptTokens + genTokens, limit: limit)
        }
        if contextIsExplicit, context > 0, context + genTokens > limit {
            throw BenchError.contextTooLong(context: context, genTokens: genTokens, limit: limit)
        }

        // Warm-up: pages in memory-mapped weights and starts the worker threads.
        progress.show("warming up")
        _ = try model.makeSession().append(ids(min(8, limit)))

        // Both sessions get their whole cache up front (as llama.cpp's fixed context does), so
        // no timed step pays for growing and copying it.
        let session = model.makeSession()
        session.reserveCapacity(promptTokens + genTokens)
        progress.show("prompt: \(promptTokens) tokens")
        let promptStart = Date()
        _ = try session.append(ids(promptTokens))
        let promptSeconds = Date().timeIntervalSince(promptStart)
        let generation = try generate(session, genTokens, ids, progress, label: "generating")

        var figures: [BatchFigure] = []
        for size in batches {
            if size == 1 {
                figures.append(BatchFigure(sequences: 1, totalTokensPerSecond: generation, perSequenceTokensPerSecond: generation,
                                           ratio: 1, kvBytesPerSequence: session.cacheBytes, sharedPromptKVBytes: 0))
                continue
            }
            progress.show("batch of \(size): prompt")
            let parent = model.makeSession()
            parent.reserveCapacity(promptTokens)
            _ = try parent.append(ids(promptTokens))
            let promptBytes = parent.cacheBytes
            let sequences = (0..<size).map { _ in parent.fork() }
            for sequence in sequences { sequence.reserveCapacity(promptTokens + genTokens) }
            let batch = model.makeBatch(capacity: size)
            let start = Date()
            for step in 0..<genTokens {
                if step % 8 == 0 { progress.show("batch of \(size): \(step)/\(genTokens)") }
                _ = try batch.step(sequences, tokens: ids(size))
            }
            let perSequence = Double(genTokens) / Date().timeIntervalSince(start)
            figures.append(BatchFigure(sequences: size, totalTokensPerSecond: perSequence * Double(size),
                                       perSequenceTokensPerSecond: perSequence, ratio: perSequence * Double(size) / generation,
                                       kvBytesPerSequence: sequences[0].cacheBytes, sharedPromptKVBytes: promptBytes))
        }

        var longContext: Double?
        if context > 0 {
            let filled = min(context, limit - genTokens)
            let long = model.makeSession()
            long.reserveCapacity(filled + genTokens)
            if let synthetic = long as? SyntheticContextFilling, filled > 0 {
                progress.show("filling \(filled) positions of context")
                try synthetic.appendSyntheticContext(count: filled, seed: seed)
                longContext = try generate(long, genTokens, ids, progress, label: "generating at \(filled) context")
            }
        }
        return BenchReport(
            model: directory.path, weightFormat: Self.formatName(model), kvCache: model.kvCacheFormat.rawValue,
            weightSource: model.weightSource.description, threads: model.parallelism.threadCount,
            instructionSet: KernelInfo.instructionSet, bf16Products: KernelInfo.hasBFloat16Products, promptTokens: promptTokens, genTokens: genTokens, context: context,
            loadSeconds: loadSeconds, promptTokensPerSecond: Double(promptTokens) / promptSeconds,
            generationTokensPerSecond: generation, longContextTokensPerSecond: longContext,
            longContextRatio: longContext.map { $0 / generation }, batches: figures.isEmpty ? nil : figures,
            weightMemoryBytes: model.weightMemoryBytes,
            peakRSSBytes: ProcessMemory.peakResidentBytes() ?? 0)
    }

    /// Tokens per second over `count` single-token steps.
    private static func generate(
        _ session: any LanguageModelSession, _ count: Int, _ ids: (Int) -> [Int], _ progress: BenchProgress, label: String
    ) throws(ModelError) -> Double {
        let start = Date()
        for step in 0..<count {
            if step % 8 == 0 { progress.show("\(label): \(step)/\(count)") }
            _ = try session.append(ids(1))
        }
        return Double(count) / Date().timeIntervalSince(start)
    }

    func printTable() {
        func rate(_ value: Double) -> String { String(format: "%.2f tok/s", value) }
        print("""
        model            \(model)
        weights          \(weightFormat) (\(weightSource)), \(CLIOutput.bytes(weightMemoryBytes))
        kv cache         \(kvCache)
        threads          \(threads) (\(instructionSet)\(bf16Products ? " + bf16" : "") kernels)
        load             \(String(format: "%.3f s", loadSeconds))
        prompt           \(rate(promptTokensPerSecond)) (\(promptTokens) tokens)
        generation       \(rate(generationTokensPerSecond)) (\(genTokens) tokens after the prompt)
        """)
        if let longContextTokensPerSecond, let longContextRatio {
            print("generation @\(context)  \(rate(longContextTokensPerSecond)) (\(String(format: "%.0f%%", 100 * longContextRatio)) of the above)")
        }
        if let batches {
            print("batched generation (sequences forked from the prompt, one forward step for all):")
            print("  B   total tok/s   per sequence   × B=1   KV per sequence")
            for figure in batches {
                print(String(format: "%3d  %12.2f  %13.2f  %6.2f   ", figure.sequences, figure.totalTokensPerSecond,
                             figure.perSequenceTokensPerSecond, figure.ratio) + CLIOutput.bytes(figure.kvBytesPerSequence))
            }
        }
        print("peak memory      \(CLIOutput.bytes(peakRSSBytes)) (VmHWM)")
    }
}

enum BenchError: Error, CustomStringConvertible {
    /// The long-context figure needs `context + genTokens` positions and the model has fewer.
    case contextTooLong(context: Int, genTokens: Int, limit: Int)

    var description: String {
        switch self {
        case let .contextTooLong(context, genTokens, limit):
            return "--context \(context) plus --gen-tokens \(genTokens) needs \(context + genTokens) positions, but the model's "
                + "maximum context is \(limit) tokens; give --context \(max(0, limit - genTokens)) or less (0 skips the figure)"
        }
    }
}

/// A one-line status on stderr, rewritten in place (only where stderr takes escape codes,
/// `Terminal.stderrTakesEscapes`).
final class BenchProgress {
    let enabled: Bool
    init(enabled: Bool) { self.enabled = enabled }

    func show(_ text: String) {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[2K\(text)".utf8))
    }

    func clear() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8))
    }
}

/// Peak resident memory from /proc/self/status.
enum ProcessMemory {
    static func peakResidentBytes() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let digits = line.dropFirst(6).filter(\.isNumber)
            return Int(digits).map { $0 * 1024 }
        }
        return nil
    }
}

/// Deterministic token ids (SplitMix64).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
