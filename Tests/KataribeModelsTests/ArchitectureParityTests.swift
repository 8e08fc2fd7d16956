import Foundation
import Testing
import KataribeTensor
import KataribeTestSupport
@testable import KataribeModels

/// Llama-family checkpoints made by transformers with each feature switched on
/// (tools/fixtures/make_architecture_fixtures.py) give transformers' float32 log-probs.
@Suite("Architecture parity with transformers")
struct ArchitectureParityTests {
    struct Reference: Decodable {
        let ids: [Int]
        let logprobs: [[Double]]
    }

    static let fixtures = ["llama-gqa-llama3rope", "llama-bias-linear-tied", "llama-dynamic", "llama-yarn-sharded",
                           "mistral-sliding", "qwen2-bias-tied", "qwen3-qknorm",
                           "gemma2-softcap-sliding", "gemma3-local-global"]

    func directory(_ name: String) -> URL { TestPaths.fixture("architectures/\(name)") }

    func reference(_ name: String) throws -> Reference {
        try JSONDecoder().decode(Reference.self, from: Data(contentsOf: directory(name).appendingPathComponent("reference.json")))
    }

    func largestDifference(_ rows: [[Float]], _ reference: [[Double]]) -> Double {
        var worst = 0.0
        for (row, expected) in zip(rows, reference) {
            let logprobs = VectorOps.logSoftmax(row)
            for (a, b) in zip(logprobs, expected) { worst = max(worst, abs(a - b)) }
        }
        return worst
    }

    func meanDifference(_ rows: [[Float]], _ reference: [[Double]]) -> Double {
        var total = 0.0, count = 0
        for (row, expected) in zip(rows, reference) {
            for (a, b) in zip(VectorOps.logSoftmax(row), expected) {
                total += abs(a - b)
                count += 1
            }
        }
        return total / Double(max(count, 1))
    }

    @Test("every position's log-probs equal transformers' within 1e-4, in one pass and token by token", arguments: fixtures)
    func logprobs(name: String) throws {
        let reference = try reference(name)
        let model = try ModelLoader.load(directory: directory(name), options: LoadOptions(parallelism: .serial))
        let full = try model.logits(for: reference.ids)
        #expect(full.count == reference.ids.count)
        let fullDifference = largestDifference(full, reference.logprobs)
        #expect(fullDifference < 1e-4, "\(name): \(fullDifference)")

        // Token by token: the cache must give what the one-pass forward gives. Dynamic NTK is the
        // exception: transformers scales the frequencies of every position of a forward call by
        // that call's longest position, so a one-pass forward and incremental decoding differ in
        // transformers too; there, incremental decoding must equal one-pass forwards of each prefix
        // within the trained length (the frequencies are unscaled up to it).
        let session = model.makeSession()
        var stepwise: [[Float]] = []
        for id in reference.ids { stepwise.append(try session.append([id])) }
        let expected: [[Double]]
        if name == "llama-dynamic" {
            let prefix = try model.logits(for: Array(reference.ids.prefix(8)))
            expected = prefix.map { VectorOps.logSoftmax($0) }
            stepwise = Array(stepwise.prefix(8))
        } else {
            expected = reference.logprobs
        }
        let stepDifference = largestDifference(stepwise, expected)
        #expect(stepDifference < 1e-4, "\(name) token by token: \(stepDifference)")
    }

    @Test("the same checkpoints quantized to q8 stay close to the reference, on two threads", arguments: fixtures)
    func quantized(name: String) throws {
        let reference = try reference(name)
        let model = try ModelLoader.load(directory: directory(name),
                                         options: LoadOptions(parallelism: Parallelism(threadCount: 2), weightFormat: .q8))
        // Sanity, not parity: these tiny random models have sharp distributions, so q8's rounding
        // moves single log-probs by up to a few tenths; on average it must stay small.
        let difference = meanDifference(try model.logits(for: reference.ids), reference.logprobs)
        #expect(difference < 0.15, "\(name) q8: mean |Δ log-prob| \(difference)")
    }

    @Test("grouped-query models cache only their kv heads; head_dim may differ from hidden/heads")
    func cacheShape() throws {
        let model = try ModelLoader.load(directory: directory("llama-gqa-llama3rope"))
        #expect(model.cacheLayout.kvHeads == 2 && model.cacheLayout.queryHeads == 4 && model.cacheLayout.headDim == 12)
        #expect(model.fullContextCacheBytes == 2 * 2 * 2 * 64 * 12 * 4)
        #expect(model.shape.architectures == ["LlamaForCausalLM"])
    }

    @Test("missing, misshapen and unknown tensors are errors naming the tensor")
    func strictWeights() throws {
        let source = directory("qwen3-qknorm")
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("kataribe-arch-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: source, to: copy)
        defer { try? FileManager.default.removeItem(at: copy) }
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: copy.appendingPathComponent("config.json"))) as! [String: Any]
        config["model_type"] = "qwen2"  // qwen2 has q/k/v biases and no q/k norms
        try JSONSerialization.data(withJSONObject: config).write(to: copy.appendingPathComponent("config.json"))
        #expect(throws: ModelError.self) { try ModelLoader.load(directory: copy) }
    }
}
