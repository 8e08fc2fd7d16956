import KataribeGeneration

/// A backend that invents text, for tests and dry runs of the pipeline (`kataribe compare --backend
/// fake`). Output depends only on the model label, the prompt and the seed, so it is reproducible like
/// a real model; an optional per-token delay makes runs slow enough to interrupt.
public struct FakeCompareBackend: CompareBackend {
    public var tokensPerSample: Int
    public var tokenDelay: Duration
    public var loadDelay: Duration
    /// Labels whose load fails.
    public var failingModels: Set<String>
    /// Prompt ids whose samples fail.
    public var failingPrompts: Set<String>
    /// The sessions' `maxConcurrentSamples`, so dry runs exercise concurrent samples too.
    public var concurrentSamples: Int

    public init(tokensPerSample: Int = 12, tokenDelay: Duration = .zero, loadDelay: Duration = .zero,
                failingModels: Set<String> = [], failingPrompts: Set<String> = [], concurrentSamples: Int = 1) {
        self.tokensPerSample = tokensPerSample
        self.tokenDelay = tokenDelay
        self.loadDelay = loadDelay
        self.failingModels = failingModels
        self.failingPrompts = failingPrompts
        self.concurrentSamples = concurrentSamples
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    public func load(_ model: PlannedModel, samplesPerCell: Int) async throws -> any CompareModelSession {
        if loadDelay > .zero { try await Task.sleep(for: loadDelay) }
        if failingModels.contains(model.label) { throw Failure(description: "fake load failure for \(model.label)") }
        return Session(backend: self)
    }

    struct Session: CompareModelSession {
        let backend: FakeCompareBackend
        var backendName: String { "fake" }
        var maxConcurrentSamples: Int { backend.concurrentSamples }

        func generate(_ request: SampleRequest, progress: @escaping @Sendable (Int) -> Void) async throws -> SampleOutput {
            if backend.failingPrompts.contains(request.promptID) {
                throw Failure(description: "fake generation failure for \(request.promptID)")
            }
            let words = ["むかし", "おじいさん", "と", "おばあさん", "が", "山", "へ", "川", "で", "桃", "を", "見つけ", "ました", "、", "。", "\n", "|"]
            var generator = SeededGenerator(seed: FakeCompareBackend.mix(request))
            var text = ""
            for token in 0..<backend.tokensPerSample {
                if backend.tokenDelay > .zero { try await Task.sleep(for: backend.tokenDelay) }
                try Task.checkCancellation()
                text += words[Int(generator.next() % UInt64(words.count))]
                progress(token + 1)
            }
            return SampleOutput(text: text + "。", promptTokens: request.prompt.unicodeScalars.count,
                                outputTokens: backend.tokensPerSample, stopReason: StopReason.length.rawValue,
                                firstTokenSeconds: nil)
        }

        func close() async {}
    }

    /// FNV-1a over the label and prompt, mixed with the seed.
    static func mix(_ request: SampleRequest) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in (request.modelLabel + "\u{0}" + request.prompt).utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        return hash ^ request.seed
    }
}
