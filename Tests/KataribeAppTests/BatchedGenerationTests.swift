import Foundation
import Testing
import KataribeApp
import KataribeGeneration
import KataribeModels
import KataribeTensor
import KataribeTestSupport

/// Sample i of a request with seed s is the same text however it was batched: alone (a request of
/// one sample with seed s + i), among its request's samples (`generate --samples N`, one or several
/// at a time), or beside other requests in a shared engine (`serve --parallel`, compare).
@Suite("Batched generation: the same samples alone and together")
struct BatchedGenerationTests {
    static let models: [(name: String, format: WeightFormat?)] = [("demo-calm", nil), ("demo-calm", .q8), ("demo-rinna-sft", nil),
                                                                  ("demo-rinna-sft", .q4)]

    func load(_ name: String, _ format: WeightFormat?) async throws -> LoadedModel {
        try await LoadedModel.load(name, options: ModelLoadOptions(threads: 2, weightFormat: format, quantizedCache: nil))
    }

    func sampling(seed: UInt64, samples: Int = 1, maxNewTokens: Int = 20) -> GenerationParameters {
        GenerationParameters(doSample: true, temperature: 0.9, topP: 0.95, repetitionPenalty: 1.1, maxNewTokens: maxNewTokens,
                             numReturnSequences: samples, seed: seed)
    }

    func run(_ generator: TextGenerator, _ prompt: String, _ parameters: GenerationParameters) async throws -> [GeneratedSample] {
        try await generator.stream(generator.prepare(.text(prompt), parameters: parameters)).collect().samples
    }

    @Test("samples of one request equal the same seeds run alone, with all, some or one of them in the batch",
          arguments: 0..<4)
    func samplesOfOneRequest(_ which: Int) async throws {
        let (name, format) = Self.models[which]
        let model = try await load(name, format)
        let prompt = "吾輩は猫である。名前は"
        let alone = try await (0..<3).asyncMap { i in
            try await run(TextGenerator(model: model), prompt, sampling(seed: 40 &+ UInt64(i))).first!
        }
        #expect(alone.allSatisfy { $0.tokens.count > 3 }, "the samples must say something to compare")
        for requestBatch in [nil, 2, 1] {
            let together = try await run(TextGenerator(model: model, requestBatch: requestBatch), prompt, sampling(seed: 40, samples: 3))
            #expect(together.map(\.tokens) == alone.map(\.tokens), "\(name) \(format?.rawValue ?? "stored"), batch \(requestBatch ?? 3)")
            #expect(together.map(\.text) == alone.map(\.text))
            #expect(together.map(\.stopReason) == alone.map(\.stopReason))
        }
    }

    @Test("requests running together in one engine each get what they get alone")
    func requestsSharingAnEngine() async throws {
        let model = try await load("demo-calm", .q8)
        let requests: [(prompt: String, parameters: GenerationParameters)] = [
            ("吾輩は猫である。名前は", sampling(seed: 40, samples: 3)),
            ("東京は", sampling(seed: 7, maxNewTokens: 12)),
            ("吾輩は猫である。名前は", sampling(seed: 99, maxNewTokens: 30)),
            ("むかしむかし、あるところに", GenerationParameters(doSample: false, maxNewTokens: 16)),
        ]
        var alone: [[GeneratedSample]] = []
        for request in requests { alone.append(try await run(TextGenerator(model: model), request.prompt, request.parameters)) }

        let shared = TextGenerator(model: model, sharedBatch: 4)
        let together = try await withThrowingTaskGroup(of: (Int, [GeneratedSample]).self) { group in
            for (index, request) in requests.enumerated() {
                group.addTask { (index, try await run(shared, request.prompt, request.parameters)) }
            }
            var results = [[GeneratedSample]](repeating: [], count: requests.count)
            for try await (index, samples) in group { results[index] = samples }
            return results
        }
        for index in requests.indices {
            #expect(together[index].map(\.tokens) == alone[index].map(\.tokens), "request \(index)")
            #expect(together[index].map(\.text) == alone[index].map(\.text), "request \(index)")
        }
        // Everything finished: the engine holds no sequence and no request.
        let load = try #require(shared.engine).load
        #expect(load.sequences == 0 && load.requestsRunning == 0 && load.requestsWaiting == 0)
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
