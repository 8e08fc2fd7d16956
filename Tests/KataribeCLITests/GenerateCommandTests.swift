import Foundation
import KataribeApp
import KataribeGeneration
import KataribeModels
import KataribeTensor
import KataribeTestSupport
import Testing

private let calm = "Tests/Fixtures/generation-e2e/calm"

/// The first case of the greedy reference (transformers' output for the calm fixture model).
private struct FirstCase: Decodable {
    var prompt: String
    var outputIds: [Int]
    var text: String

    static func load() throws -> FirstCase {
        struct File: Decodable { var cases: [FirstCase] }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let file = try decoder.decode(File.self, from: Data(contentsOf: TestPaths.fixture("generation-e2e/greedy_reference.json")))
        return try #require(file.cases.first)
    }
}

private func jsonLines(_ text: String) throws -> [[String: Any]] {
    try text.split(separator: "\n").map { line in
        try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }
}

@Suite("kataribe generate", .timeLimit(.minutes(3)))
struct GenerateCommandTests {
    let greedy = ["--greedy", "--repetition-penalty", "1.0", "--max-new-tokens", "20"]

    @Test("streams prompt and continuation to stdout, timing to stderr; the text is transformers'")
    func streamsText() async throws {
        let reference = try FirstCase.load()
        let result = try await KataribeBinary.run(["generate", "--model", calm, "--prompt", reference.prompt] + greedy)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == reference.prompt + reference.text + "\n")
        #expect(result.stderr.contains("tokens/s") && result.stderr.contains("stop: length"))
    }

    @Test("--json prints one object per sample with ids, text, stop reason, seeds and timing")
    func json() async throws {
        let reference = try FirstCase.load()
        let single = try jsonLines(await KataribeBinary.run(["generate", "--model", calm, "--prompt", reference.prompt, "--json"] + greedy).stdout)
        #expect(single.count == 1)
        #expect(single.first?["tokens"] as? [Int] == reference.outputIds)
        #expect(single.first?["text"] as? String == reference.text)
        #expect(single.first?["stop_reason"] as? String == "length")
        #expect(single.first?["prompt_tokens"] as? Int == 7)

        let many = try jsonLines(await KataribeBinary.run(["generate", "--model", calm, "--prompt", "吾輩は", "--samples", "3",
                                                     "--seed", "40", "--max-new-tokens", "5", "--json"]).stdout)
        #expect(many.map { $0["sample"] as? Int } == [0, 1, 2])
        #expect(many.map { $0["seed"] as? Int } == [40, 41, 42])
        #expect(many.allSatisfy { ($0["request_seed"] as? Int) == 40 && ($0["tokens"] as? [Int])?.count == 5 })
        #expect((many.first?["parameters"] as? [String: Any])?["temperature"] as? Double == 0.7)  // the preset's
    }

    @Test("--dtype q8 and q4 generate what the library's quantized model generates, and the quantized model is saved for the next run")
    func quantizedWeights() async throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("kataribe-dtype-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let prompt = "吾輩は"
        for format in [WeightFormat.q8, .q4] {
            let libraryCache = QuantizedCache(directory: scratch.appendingPathComponent("library"))
            let model = try await LoadedModel.load(TestPaths.fixture("generation-e2e/calm").path,
                                                   options: ModelLoadOptions(weightFormat: format, quantizedCache: libraryCache))
            let expected = try await TextGenerator(model: model).generate(
                prompt: prompt, parameters: GenerationParameters(doSample: false, repetitionPenalty: 1.0, maxNewTokens: 20)).collect()

            let cliCache = scratch.appendingPathComponent("cli")
            let arguments = ["generate", "--model", calm, "--prompt", prompt, "--dtype", format.rawValue, "--json"] + greedy
            let first = try await KataribeBinary.runWithEnvironment(arguments, environment: ["KATARIBE_QUANTIZED_CACHE": cliCache.path])
            #expect(first.status == 0, "\(first.stderr)")
            #expect(try jsonLines(first.stdout).first?["tokens"] as? [Int] == expected.samples[0].tokens)
            let saved = try FileManager.default.contentsOfDirectory(atPath: cliCache.path)
            #expect(saved.contains { $0.hasSuffix(".\(format.rawValue).safetensors") }, "\(saved)")

            let second = try await KataribeBinary.runWithEnvironment(arguments, environment: ["KATARIBE_QUANTIZED_CACHE": cliCache.path])
            #expect(try jsonLines(second.stdout).first?["tokens"] as? [Int] == expected.samples[0].tokens)
        }
        let unknown = try await KataribeBinary.run(["generate", "--model", calm, "--prompt", prompt, "--dtype", "q5"])
        #expect(unknown.status != 0 && unknown.stderr.contains("--dtype must be one of f32, f16, bf16, q8, q4"))
    }

    @Test("--prompt-file reads the prompt; --stop ends at a stop string")
    func promptFileAndStop() async throws {
        let reference = try FirstCase.load()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("kataribe-prompt-\(UUID().uuidString).txt")
        try Data(reference.prompt.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let stop = String(reference.text.dropFirst(4).prefix(2))
        let result = try await KataribeBinary.run(["generate", "--model", calm, "--prompt-file", file.path, "--stop", stop, "--json"] + greedy)
        let line = try #require(try jsonLines(result.stdout).first)
        #expect(line["stop_reason"] as? String == "stop_string" && line["stop_string"] as? String == stop)
        #expect((line["text"] as? String)?.hasSuffix(stop) == true || (line["text"] as? String)?.contains(stop) == true)
    }

    @Test("an unknown model name lists the demo models and presets; a long prompt gives the numbers")
    func errors() async throws {
        let unknown = try await KataribeBinary.run(["generate", "--model", "demo-calmm", "--prompt", "x"])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("unknown model \"demo-calmm\"") && unknown.stderr.contains("demo-calm, demo-rinna-sft")
                && unknown.stderr.contains("open-calm-7b"))
        let long = String(repeating: "吾輩は猫である。", count: 40)
        let tooLong = try await KataribeBinary.run(["generate", "--model", calm, "--prompt", long, "--max-new-tokens", "20"])
        #expect(tooLong.status == 1)
        #expect(tooLong.stderr.contains("context length is 128") && tooLong.stderr.contains("--truncate"))
        let truncated = try await KataribeBinary.run(["generate", "--model", calm, "--prompt", long, "--max-new-tokens", "4", "--truncate", "--json"])
        let dropped = try jsonLines(truncated.stdout).first?["dropped_prompt_tokens"] as? Int
        #expect(truncated.status == 0 && (dropped ?? 0) > 0)
        let missing = try await KataribeBinary.run(["generate", "--model", calm])
        #expect(missing.status != 0 && missing.stderr.contains("--prompt"))
    }
}

@Suite("kataribe models and score --text", .timeLimit(.minutes(2)))
struct ModelsAndScoreCommandTests {
    @Test("models lists every preset as a table or JSON; --local keeps the cache listing")
    func models() async throws {
        let table = try await KataribeBinary.run(["models"])
        #expect(table.status == 0)
        for id in ["open-calm-7b", "rinna-3.6b-sft-v2", "demo-calm", "demo-rinna-sft"] { #expect(table.stdout.contains(id)) }
        let json = try await KataribeBinary.run(["models", "--json"])
        let presets = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        #expect(presets.count >= 11 && presets.contains { $0["id"] as? String == "demo-rinna-sft" })
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("kataribe-empty-cache-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: cache) }
        let local = try await KataribeBinary.runWithEnvironment(["models", "--local"], environment: ["HF_HUB_CACHE": cache.path])
        #expect(local.status == 0 && local.stdout.contains("No models in"))
    }

    @Test("score --text tokenizes with the model's tokenizer (no special tokens for rinna)")
    func scoreText() async throws {
        let result = try await KataribeBinary.run(["score", "--model", "Tests/Fixtures/generation-e2e/rinna", "--text", "こんにちは", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let ids = try #require(report["ids"] as? [Int])
        #expect(!ids.isEmpty && !ids.contains(3))
        #expect((report["scores"] as? [Any])?.count == ids.count - 1)
        let both = try await KataribeBinary.run(["score", "--model", "x", "--ids", "1", "--text", "a"])
        #expect(both.status != 0 && both.stderr.contains("either --ids or --text"))
    }
}
