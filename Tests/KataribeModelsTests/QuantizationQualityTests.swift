import Foundation
import Testing
import KataribeTensor
import KataribeTestSupport
import KataribeTokenizers
@testable import KataribeModels

/// The held-out paragraphs of the demo models' corpus split (tools/demo_models/corpus.py on the
/// demo-models branch): in each permissively licensed source of ja.txt, every 20th block of 40
/// lines (phase 7), except the FAQ.
enum HeldOutCorpus {
    static let sources = ["aozora-wagahaiwa-nekodearu", "maint-guide-ja", "debian-faq-ja", "debian-handbook-ja", "libreoffice-help-ja"]

    static func paragraphs(corpus: URL) throws -> [String] {
        let lines = try String(contentsOf: corpus.appendingPathComponent("ja.txt"), encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false)
        let statsText = try String(contentsOf: corpus.appendingPathComponent("stats.json"), encoding: .utf8)
        let stats = try #require(try JSONSerialization.jsonObject(with: Data(statsText.utf8)) as? [String: Any])
        // ja.txt concatenates the sources in stats.json's key order.
        let ordered = stats.keys.filter { !$0.hasPrefix("_") }.sorted {
            statsText.range(of: "\"\($0)\"")!.lowerBound < statsText.range(of: "\"\($1)\"")!.lowerBound
        }
        var start = 0, heldOut: [String] = []
        for name in ordered {
            let count = try #require((stats[name] as? [String: Any])?["lines"] as? Int)
            if sources.contains(name), name != "debian-faq-ja" {
                for i in start..<(start + count) where (i - start) / 40 % 20 == 7 { heldOut.append(String(lines[i])) }
            }
            start += count
        }
        return heldOut
    }
}

/// Perplexity of quantized models against the float model they came from, on real text with a
/// trained model. Skips without Models/demo-calm (lands with the demo models) or ../shared.
@Suite("Quantization quality on the demo model")
struct QuantizationQualityTests {
    static let model = TestPaths.packageRoot.appendingPathComponent("Models/demo-calm")
    static var available: Bool {
        FileManager.default.fileExists(atPath: model.appendingPathComponent("config.json").path)
            && TestPaths.shared("corpus/ja.txt") != nil
    }
    /// Held-out tokens scored (the full split is ~23k; `KATARIBE_PERPLEXITY_TOKENS` overrides).
    static var tokenBudget: Int {
        ProcessInfo.processInfo.environment["KATARIBE_PERPLEXITY_TOKENS"].flatMap(Int.init) ?? 512
    }

    /// eos before every paragraph, as the model was trained.
    func heldOutTokens() throws -> [Int] {
        let corpus = try #require(TestPaths.shared("corpus"))
        let tokenizer = try AutoTokenizer.load(from: Self.model)
        var ids: [Int] = []
        for paragraph in try HeldOutCorpus.paragraphs(corpus: corpus) where ids.count < Self.tokenBudget + 1 {
            ids.append(0)
            ids += tokenizer.encode(paragraph, addSpecialTokens: false)
        }
        return Array(ids.prefix(Self.tokenBudget + 1))
    }

    /// Mean negative log-likelihood over 256-token windows advanced by 128 (each token scored
    /// once, with at least 128 tokens of context after the first window) — batched, or one token
    /// at a time (the path generation takes, with int8 activations for q8/q4).
    func meanNLL(_ model: GPTNeoXModel, _ ids: [Int], incremental: Bool) throws -> Double {
        let window = 256, stride = 128
        var total = 0.0, count = 0, start = 0
        while start + 1 < ids.count {
            let chunk = Array(ids[start..<min(start + window, ids.count)])
            let logits: [[Float]]
            if incremental {
                let session = model.makeSession()
                logits = try chunk.map { try session.append([$0]) }
            } else {
                logits = try model.logits(for: chunk)
            }
            let firstScored = start == 0 ? 0 : window - stride - 1
            for i in firstScored..<(chunk.count - 1) {
                total -= logits[i].withUnsafeBufferPointer { VectorOps.logSoftmax($0, at: chunk[i + 1]) }
                count += 1
            }
            if start + window >= ids.count { break }
            start += stride
        }
        return total / Double(count)
    }

    @Test("q8 perplexity is within 1% and q4 within 5% of the float16 model on held-out text",
          .enabled(if: available))
    func perplexity() throws {
        let ids = try heldOutTokens()
        let reference = try ModelLoader.loadGPTNeoX(directory: Self.model, options: LoadOptions(parallelism: .automatic))
        for incremental in [false, true] {
            let base = exp(try meanNLL(reference, ids, incremental: incremental))
            for (format, limit) in [(WeightFormat.q8, 0.01), (.q4, 0.05)] {
                let model = try ModelLoader.loadGPTNeoX(directory: Self.model,
                                                        options: LoadOptions(parallelism: .automatic, weightFormat: format))
                let value = exp(try meanNLL(model, ids, incremental: incremental))
                let ratio = value / base
                print("perplexity \(incremental ? "one token at a time" : "batched"): f16 \(base), \(format) \(value) (×\(ratio)) over \(ids.count - 1) tokens")
                #expect(abs(ratio - 1) < limit, "\(format) \(incremental ? "incremental" : "batched"): ×\(ratio)")
            }
        }
    }

    @Test("greedy text of the float16 model is the same through the fast kernels and the portable ones",
          .enabled(if: available))
    func greedyUnchanged() throws {
        let model = try ModelLoader.loadGPTNeoX(directory: Self.model, options: LoadOptions(parallelism: .serial))
        let prompt = Array(try heldOutTokens().prefix(24))
        func greedy() throws -> [Int] {
            let session = model.makeSession()
            var logits = try session.append(prompt), out: [Int] = []
            for _ in 0..<32 {
                let next = argmax(logits)
                out.append(next)
                logits = try session.append([next])
            }
            return out
        }
        let fast = try greedy()
        KernelInfo.usePortableKernels(true)
        defer { KernelInfo.usePortableKernels(false) }
        #expect(try greedy() == fast)
    }
}
