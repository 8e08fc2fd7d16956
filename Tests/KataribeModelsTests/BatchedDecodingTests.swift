import Foundation
import Testing
import KataribeTensor
import KataribeTestSupport
@testable import KataribeModels

/// Batched decoding's promise: a sequence's logits are the same bits whether it is decoded alone or
/// in one forward step with other sequences (of other prompts, at other positions, joining and
/// leaving), and whether its prompt was computed for it or shared from a fork.
@Suite("Batched decoding: bit-identical to decoding alone")
struct BatchedDecodingTests {
    struct Case: CustomStringConvertible, Sendable {
        let name: String
        let url: URL
        let format: WeightFormat?
        var description: String { format.map { "\(name) as \($0)" } ?? name }
    }

    static let architectureFixtures = ["llama-gqa-llama3rope", "llama-bias-linear-tied", "llama-dynamic", "llama-yarn-sharded",
                                       "mistral-sliding", "qwen2-bias-tied", "qwen3-qknorm", "gemma2-softcap-sliding",
                                       "gemma3-local-global"]
    static let gptNeoXFixtures = ["seq-f32-safetensors", "par-gelunew-nobias-f16-sharded-safetensors", "seq-rot25-f16-bin",
                                  "seq-tied-bf16-safetensors"]
    static let ggufFixtures = ["llama/Q8_0", "llama/Q4_0", "llama/Q4_1", "llama/Q5_0", "llama/Q5_1", "llama/Q4_K_M", "qwen2/BF16",
                               "qwen2/Q6_K", "qwen3/F16", "qwen3/Q5_K", "gemma3/Q4_K_M", "gemma2/Q8_0", "gptneox/F16",
                               "gptneox/Q8_0", "gptneox/Q4_K_M"]

    /// Every architecture in its stored format and in each format it can be converted to at load
    /// (dense float16, q8 and q4 with their float16 KV cache), and every GGUF block format.
    static let cases: [Case] = {
        var cases: [Case] = []
        let formats: [WeightFormat?] = [nil, .float16, .q8, .q4]
        for name in architectureFixtures {
            for format in formats { cases.append(Case(name: name, url: TestPaths.fixture("architectures/\(name)"), format: format)) }
        }
        for name in gptNeoXFixtures {
            for format in formats { cases.append(Case(name: name, url: TestPaths.fixture("engine/models/\(name)"), format: format)) }
        }
        for name in ggufFixtures { cases.append(Case(name: name, url: TestPaths.fixture("gguf-models/\(name).gguf"), format: nil)) }
        return cases
    }()

    /// A sequence: its prompt, then the tokens fed after it (as if sampled).
    struct Script {
        let prompt: [Int]
        let fed: [Int]
    }

    static func tokens(_ count: Int, seed: UInt64, vocabulary: Int) -> [Int] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<count).map { _ in
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return Int(state % UInt64(vocabulary))
        }
    }

    /// The logits after the prompt and after each fed token, decoding the sequence alone.
    static func alone(_ model: any TransformerModel, _ script: Script) throws -> [[Float]] {
        let session = model.makeSession()
        var rows = [try session.append(script.prompt)]
        for token in script.fed { rows.append(try session.append([token])) }
        return rows
    }

    static func bits(_ rows: [[Float]]) -> [[UInt32]] { rows.map { $0.map(\.bitPattern) } }

    @Test("sequences stepped together (joining, leaving, forked from one prompt) give the logits they give alone",
          arguments: cases)
    func batchedEqualsAlone(_ testCase: Case) throws {
        let model = try ModelLoader.load(directory: testCase.url,
                                         options: LoadOptions(parallelism: Parallelism(threadCount: 2), weightFormat: testCase.format))
        let vocabulary = model.vocabularySize
        let steps = min(6, model.contextLength - 5)
        #expect(steps >= 3, "the fixture's context is too short to test anything")
        // Sequence 0 and 4 have their own prompts; 1, 2 and 3 share one prompt (3 forks of it).
        let shared = Self.tokens(4, seed: 2, vocabulary: vocabulary)
        let scripts = [
            Script(prompt: Self.tokens(5, seed: 1, vocabulary: vocabulary), fed: Self.tokens(steps - 1, seed: 11, vocabulary: vocabulary)),
            Script(prompt: shared, fed: Self.tokens(steps, seed: 12, vocabulary: vocabulary)),
            Script(prompt: shared, fed: Self.tokens(steps, seed: 13, vocabulary: vocabulary)),
            Script(prompt: shared, fed: Self.tokens(steps, seed: 14, vocabulary: vocabulary)),
            Script(prompt: Self.tokens(2, seed: 3, vocabulary: vocabulary), fed: Self.tokens(steps - 2, seed: 15, vocabulary: vocabulary)),
        ]
        let expected = try scripts.map { try Self.alone(model, $0) }

        let batch = model.makeBatch(capacity: 5)
        var sessions: [(any LanguageModelSession)?] = Array(repeating: nil, count: scripts.count)
        var got: [[[Float]]] = Array(repeating: [], count: scripts.count)
        // Two prompts computed in one forward step.
        let first = model.makeSession(), parent = model.makeSession()
        let prefilled = try batch.prefill([first, parent], prompts: [scripts[0].prompt, shared])
        got[0].append(prefilled[0])
        sessions[0] = first
        let sharedLogits = prefilled[1]
        sessions[1] = parent
        sessions[2] = parent.fork()
        sessions[3] = parent.fork()
        for i in 1...3 { got[i].append(sharedLogits) }
        for step in 0..<steps {
            if step == 2 {  // a sequence joins the running batch
                let late = model.makeSession()
                got[4].append(try late.append(scripts[4].prompt))
                sessions[4] = late
            }
            let active = (0..<scripts.count).filter { i in
                let fedSoFar = got[i].count - 1
                return sessions[i] != nil && fedSoFar < scripts[i].fed.count
            }
            let rows = try batch.step(active.map { sessions[$0]! }, tokens: active.map { scripts[$0].fed[got[$0].count - 1] })
            for (i, row) in zip(active, rows) { got[i].append(row) }
        }
        for i in scripts.indices {
            #expect(got[i].count == expected[i].count, "\(testCase) sequence \(i)")
            let differing = zip(got[i], expected[i]).enumerated().filter { Self.bits([$0.element.0]) != Self.bits([$0.element.1]) }.map(\.offset)
            #expect(differing.isEmpty, "\(testCase) sequence \(i): rows \(differing) differ from decoding it alone")
        }
    }

    @Test("prompts prefilled together (several per step, short ones alone) give the logits and caches they give alone",
          arguments: cases.filter { $0.format == nil || $0.format == .q8 })
    func prefillTogetherEqualsAlone(_ testCase: Case) throws {
        let model = try ModelLoader.load(directory: testCase.url,
                                         options: LoadOptions(parallelism: Parallelism(threadCount: 2), weightFormat: testCase.format))
        let vocabulary = model.vocabularySize
        let prompts = [5, 1, 9, 2, 3, 7].enumerated().map { Self.tokens($0.element, seed: 30 + UInt64($0.offset), vocabulary: vocabulary) }
        let next = Self.tokens(prompts.count, seed: 40, vocabulary: vocabulary)
        let expected = try prompts.indices.map { try Self.alone(model, Script(prompt: prompts[$0], fed: [next[$0]])) }
        let sessions = prompts.map { _ in model.makeSession() }
        let batch = model.makeBatch(capacity: 4)
        let promptLogits = try batch.prefill(sessions, prompts: prompts)
        let stepLogits = try batch.step(Array(sessions.prefix(4)), tokens: Array(next.prefix(4)))
            + batch.step(Array(sessions.suffix(2)), tokens: Array(next.suffix(2)))
        for i in prompts.indices {
            #expect(Self.bits([promptLogits[i]]) == Self.bits([expected[i][0]]), "\(testCase) prompt \(i)")
            #expect(Self.bits([stepLogits[i]]) == Self.bits([expected[i][1]]), "\(testCase) the step after prompt \(i)")
        }
    }

    @Test("a forked session rewound into the shared prompt, and a fork of a fork, go on as an unshared session would",
          arguments: ["llama-gqa-llama3rope", "gemma2-softcap-sliding"])
    func rewindIntoSharedPrefix(_ name: String) throws {
        let model = try ModelLoader.load(directory: TestPaths.fixture("architectures/\(name)"), options: LoadOptions(parallelism: .serial))
        let prompt = Self.tokens(6, seed: 5, vocabulary: model.vocabularySize)
        let more = Self.tokens(4, seed: 6, vocabulary: model.vocabularySize)
        let reference = try Self.alone(model, Script(prompt: Array(prompt.prefix(3)), fed: more))

        let parent = model.makeSession()
        _ = try parent.append(prompt)
        let child = parent.fork()
        try child.rewind(to: 3)
        var rows: [[Float]] = []
        for token in more { rows.append(try child.append([token])) }
        #expect(Self.bits(rows) == Self.bits(Array(reference.dropFirst())))

        // The parent still reads the untouched prefix; a fork of a fork flattens it.
        let grandchild = parent.fork().fork()
        try grandchild.rewind(to: 3)
        rows = []
        for token in more { rows.append(try grandchild.append([token])) }
        #expect(Self.bits(rows) == Self.bits(Array(reference.dropFirst())))
        let parentNext = try parent.append([more[0]])
        #expect(parentNext.map(\.bitPattern) == (try Self.alone(model, Script(prompt: prompt, fed: [more[0]])).last!.map(\.bitPattern)))
    }

    @Test("forks share the prompt's keys and values: each holds only the tokens it adds")
    func forksHoldOnlyTheirOwnTokens() throws {
        let model = try ModelLoader.load(directory: TestPaths.fixture("architectures/llama-gqa-llama3rope"),
                                         options: LoadOptions(parallelism: .serial))
        let parent = model.makeSession()
        _ = try parent.append(Self.tokens(20, seed: 7, vocabulary: model.vocabularySize))
        let promptBytes = parent.cacheBytes
        let forks = (0..<3).map { _ in parent.fork() }
        let batch = model.makeBatch(capacity: 3)
        _ = try batch.step(forks, tokens: [1, 2, 3])
        for fork in forks {
            #expect(fork.tokens.count == 21)
            #expect(fork.cacheBytes > 0 && fork.cacheBytes < promptBytes)
        }
        // All of them read the parent's cache: not one copy of the prompt was made.
        let caches = forks.compactMap { ($0 as? DecoderSession<LlamaModel>)?.cache.prefix }
        #expect(caches.count == 3 && caches.allSatisfy { $0 === caches[0] })
        #expect((parent as? DecoderSession<LlamaModel>)?.cache.prefix === caches[0])
    }

    @Test("a batch refuses more sessions than its capacity, a session twice, and another model's session")
    func batchValidation() throws {
        let url = TestPaths.fixture("architectures/qwen3-qknorm")
        let model = try ModelLoader.load(directory: url, options: LoadOptions(parallelism: .serial))
        let other = try ModelLoader.load(directory: url, options: LoadOptions(parallelism: .serial))
        let batch = model.makeBatch(capacity: 2)
        let a = model.makeSession(), b = model.makeSession(), c = model.makeSession()
        for s in [a, b, c] { _ = try s.append([1, 2]) }
        #expect(throws: ModelError.batchTooLarge(sequences: 3, capacity: 2)) { try batch.step([a, b, c], tokens: [1, 1, 1]) }
        #expect(throws: ModelError.sessionTwiceInBatch) { try batch.step([a, a], tokens: [1, 1]) }
        let foreign = other.makeSession()
        _ = try foreign.append([1])
        #expect(throws: ModelError.foreignSession) { try batch.step([a, foreign], tokens: [1, 1]) }
        #expect(throws: ModelError.tokenOutOfRange(token: -1, vocabularySize: model.vocabularySize)) {
            try batch.step([a, b], tokens: [1, -1])
        }
        // Nothing was appended by the refused steps.
        #expect(a.tokens.count == 2 && b.tokens.count == 2)
    }
}
