import Foundation
import KataribeTestSupport
import Testing

private let calm = "Tests/Fixtures/generation-e2e/calm"
private let rinna = "Tests/Fixtures/generation-e2e/rinna"

private func jsonObject(_ text: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
}

private func jsonLines(_ text: String) throws -> [[String: Any]] {
    try text.split(separator: "\n").map { try jsonObject(String($0)) }
}

/// A fresh folder under the system temporary folder, removed by `cleanup`.
private struct Scratch {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("kataribe-names-\(UUID().uuidString)")
    init() throws { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) }
    func cleanup() { try? FileManager.default.removeItem(at: url) }
}

/// Environment for a hub that must not be used: an empty cache, offline.
private func offlineHub(_ scratch: Scratch) -> [String: String] {
    ["HF_HUB_CACHE": scratch.url.appendingPathComponent("hub").path, "HF_HUB_OFFLINE": "1"]
}

@Suite("Every command takes the same model names", .timeLimit(.minutes(3)))
struct ModelNamesTests {
    @Test("inspect takes a demo name as well as a folder, and refuses an unknown name listing what it knows")
    func inspect() async throws {
        let byName = try await KataribeBinary.run(["inspect", "--model", "demo-calm", "--json"])
        #expect(byName.status == 0, "\(byName.stderr)")
        let byFolder = try await KataribeBinary.run(["inspect", "--model", "Models/demo-calm", "--json"])
        #expect(byFolder.status == 0, "\(byFolder.stderr)")
        let named = try jsonObject(byName.stdout), folder = try jsonObject(byFolder.stdout)
        #expect(named["parameter_count"] as? Int == folder["parameter_count"] as? Int && named["parameter_count"] != nil)
        #expect((named["directory"] as? String)?.hasSuffix("Models/demo-calm") == true)

        let unknown = try await KataribeBinary.run(["inspect", "--model", "demo-calmm"])
        #expect(unknown.status == 1 && unknown.stderr.contains("unknown model \"demo-calmm\"")
                && unknown.stderr.contains("demo-calm, demo-rinna-sft"))
    }

    @Test("a preset id means its hub repository for inspect and bench too (offline on an empty cache: an error naming the repository)")
    func presetIDs() async throws {
        let scratch = try Scratch()
        defer { scratch.cleanup() }
        for command in [["inspect"], ["bench", "--context", "0"]] {
            let result = try await KataribeBinary.runWithEnvironment(command + ["--model", "open-calm-small"], environment: offlineHub(scratch))
            #expect(result.status == 1 && result.stderr.contains("cyberagent/open-calm-small"), "\(command): \(result.stderr)")
        }
    }

    @Test("bench takes a demo name")
    func bench() async throws {
        let result = try await KataribeBinary.run(["bench", "--model", "demo-rinna-sft", "--prompt-tokens", "4", "--gen-tokens", "2",
                                                   "--context", "0", "--threads", "1", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect((try jsonObject(result.stdout)["model"] as? String)?.hasSuffix("Models/demo-rinna-sft") == true)
    }

    @Test("bench --context beyond the model's context is an error naming both numbers, not a shorter measurement")
    func benchContextTooLong() async throws {
        let result = try await KataribeBinary.run(["bench", "--model", "demo-rinna-sft", "--prompt-tokens", "4", "--gen-tokens", "2",
                                                   "--context", "300", "--threads", "1", "--json"])
        #expect(result.status == 1 && result.stdout.isEmpty)
        #expect(result.stderr.hasPrefix("error: --context 300 plus --gen-tokens 2 needs 302 positions, but the model's maximum context is 256 tokens"),
                "\(result.stderr)")
        let fits = try await KataribeBinary.run(["bench", "--model", "demo-rinna-sft", "--prompt-tokens", "4", "--gen-tokens", "2",
                                                 "--context", "254", "--threads", "1", "--json"])
        #expect(fits.status == 0, "\(fits.stderr)")
        #expect(try jsonObject(fits.stdout)["context"] as? Int == 254)
    }

    @Test("score --ids takes a demo name and gives the folder's numbers; --preset is accepted")
    func score() async throws {
        let byName = try await KataribeBinary.run(["score", "--model", "demo-calm", "--ids", "5,17,200", "--json"])
        #expect(byName.status == 0, "\(byName.stderr)")
        let byFolder = try await KataribeBinary.run(["score", "--model", "Models/demo-calm", "--ids", "5,17,200", "--json"])
        #expect(try jsonObject(byName.stdout)["total_logprob"] as? Double == jsonObject(byFolder.stdout)["total_logprob"] as? Double)
        let preset = try await KataribeBinary.run(["score", "--model", rinna, "--preset", "rinna-3.6b-sft-v2", "--text", "こんにちは", "--json"])
        #expect(preset.status == 0 && !preset.stderr.contains("no preset matches"), "\(preset.stderr)")
    }

    @Test("tokenize --tokenizer takes a model name and uses its preset's tokenizer, as a path does with that kind")
    func tokenize() async throws {
        let text = "吾輩は猫である。名前はまだ無い。"
        let byName = try await KataribeBinary.run(["tokenize", "--tokenizer", "demo-rinna-sft", "--text", text])
        #expect(byName.status == 0, "\(byName.stderr)")
        let byPath = try await KataribeBinary.run(["tokenize", "--tokenizer", "Models/demo-rinna-sft", "--kind", "slow", "--text", text])
        #expect(byName.stdout == byPath.stdout && byName.stdout.hasPrefix("ids: ["))
        let missing = try await KataribeBinary.run(["tokenize", "--tokenizer", "no-such-model", "--text", text])
        #expect(missing.status != 0 && missing.stderr.contains("unknown model \"no-such-model\""))
        let missingFile = try await KataribeBinary.run(["tokenize", "--tokenizer", "missing/tokenizer.json", "--text", text])
        #expect(missingFile.status != 0 && missingFile.stderr.contains("no such file"))
    }

    @Test("download: a preset id fetches its hub repository, a demo name is built in, a folder or unknown word is refused")
    func download() async throws {
        let scratch = try Scratch()
        defer { scratch.cleanup() }
        let preset = try await KataribeBinary.runWithEnvironment(["download", "open-calm-small"], environment: offlineHub(scratch))
        #expect(preset.status != 0 && preset.stderr.contains("cyberagent/open-calm-small"), "\(preset.stderr)")

        let demo = try await KataribeBinary.runWithEnvironment(["download", "demo-calm"], environment: offlineHub(scratch))
        #expect(demo.status == 0 && demo.stderr.contains("built into Kataribe"), "\(demo.stderr)")
        #expect(demo.stdout.trimmingCharacters(in: .newlines).hasSuffix("Models/demo-calm"))
        let demoJSON = try await KataribeBinary.runWithEnvironment(["download", "demo-calm", "--json"], environment: offlineHub(scratch))
        #expect(try jsonObject(demoJSON.stdout)["built_in"] as? Bool == true)

        let folder = try await KataribeBinary.runWithEnvironment(["download", calm], environment: offlineHub(scratch))
        #expect(folder.status != 0 && folder.stderr.contains("is a folder"))
        let unknown = try await KataribeBinary.runWithEnvironment(["download", "gpt-5"], environment: offlineHub(scratch))
        #expect(unknown.status != 0 && unknown.stderr.contains("unknown model \"gpt-5\""))
        #expect(!FileManager.default.fileExists(atPath: scratch.url.appendingPathComponent("hub/models--gpt-5").path))
    }
}

@Suite("A folder that matches no preset is announced", .timeLimit(.minutes(3)))
struct InferredPresetNoticeTests {
    private let notice = "note: no preset matches"

    @Test("generate, chat and score --text print one line naming the settings and --preset / preset:; --preset silences it")
    func commands() async throws {
        let runs: [(arguments: [String], input: String)] = [
            (["generate", "--model", rinna, "--prompt", "こんにちは", "--max-new-tokens", "2", "--seed", "1"], ""),
            (["chat", "--model", rinna, "--format", "rinna-chat", "--max-new-tokens", "2", "--seed", "1"], "こんにちは\n"),
            (["score", "--model", rinna, "--text", "こんにちは"], ""),
        ]
        for run in runs {
            let result = try await KataribeBinary.run(run.arguments, input: run.input)
            #expect(result.status == 0, "\(run.arguments[0]): \(result.stderr)")
            let lines = result.stderr.split(separator: "\n").filter { $0.hasPrefix(notice) }
            #expect(lines.count == 1, "\(run.arguments[0]): \(result.stderr)")
            let line = String(lines.first ?? "")
            #expect(line.contains("generation-e2e/rinna") && line.contains("rinna-3.6b") && line.contains("--preset ID")
                    && line.contains("preset: ID"), "\(line)")
        }
        let chosen = try await KataribeBinary.run(["generate", "--model", rinna, "--preset", "rinna-3.6b-sft-v2", "--prompt", "こんにちは",
                                                   "--max-new-tokens", "2", "--seed", "1"])
        #expect(chosen.status == 0 && !chosen.stderr.contains(notice), "\(chosen.stderr)")
        let demo = try await KataribeBinary.run(["generate", "--model", "demo-rinna-sft", "--prompt", "こんにちは", "--max-new-tokens", "2", "--seed", "1"])
        #expect(demo.status == 0 && !demo.stderr.contains(notice), "\(demo.stderr)")
    }

    @Test("compare prints it once for the suite entry without `preset:`, not for the one with it")
    func compare() async throws {
        let scratch = try Scratch()
        defer { scratch.cleanup() }
        let suite = scratch.url.appendingPathComponent("suite.yaml")
        try Data("""
        samples: 1
        generation: {max_new_tokens: 2}
        models:
          - {label: guessed, model: \(TestPaths.packageRoot.path)/\(rinna)}
          - {label: chosen, model: \(TestPaths.packageRoot.path)/\(rinna), preset: rinna-3.6b-sft-v2}
        prompts:
          - {id: p, completion: こんにちは, instruction: こんにちは}
        """.utf8).write(to: suite)
        let result = try await KataribeBinary.run(["compare", suite.path, "--output", scratch.url.appendingPathComponent("out").path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.occurrences(of: notice) == 1, "\(result.stderr)")
    }
}

@Suite("A suite's dtype", .timeLimit(.minutes(3)))
struct SuiteDTypeTests {
    @Test("dtype: q8 gives exactly the text of `generate --dtype q8` with the same seed, from the same saved quantized model")
    func quantizedLikeGenerate() async throws {
        let scratch = try Scratch()
        defer { scratch.cleanup() }
        let cache = scratch.url.appendingPathComponent("quantized")
        let suite = scratch.url.appendingPathComponent("suite.yaml")
        try Data("""
        samples: 2
        seed: 3
        generation: {max_new_tokens: 12}
        models:
          - {label: calm-q8, model: \(TestPaths.packageRoot.path)/\(calm), preset: open-calm-small, dtype: q8}
        prompts:
          - {id: story, completion: 昔々あるところに、}
        """.utf8).write(to: suite)
        let out = scratch.url.appendingPathComponent("out")
        let compare = try await KataribeBinary.runWithEnvironment(["compare", suite.path, "--output", out.path],
                                                                  environment: ["KATARIBE_QUANTIZED_CACHE": cache.path])
        #expect(compare.status == 0, "\(compare.stderr)")
        let saved = try FileManager.default.contentsOfDirectory(atPath: cache.path)
        #expect(saved.count == 1 && saved.first?.hasSuffix(".q8.safetensors") == true, "\(saved)")

        let results = try String(contentsOf: out.appendingPathComponent("results.jsonl"), encoding: .utf8)
        let samples = try jsonLines(results).filter { $0["type"] as? String == "sample" }
        #expect(samples.count == 2)
        for sample in samples {
            let seed = try #require(sample["seed"] as? Int)
            #expect((sample["settings"] as? [String: Any])?["weight_format"] as? String == "q8")
            let generate = try await KataribeBinary.runWithEnvironment(
                ["generate", "--model", calm, "--preset", "open-calm-small", "--dtype", "q8", "--prompt", "昔々あるところに、",
                 "--max-new-tokens", "12", "--seed", String(seed), "--json"],
                environment: ["KATARIBE_QUANTIZED_CACHE": cache.path])
            #expect(generate.status == 0, "\(generate.stderr)")
            let line = try #require(try jsonLines(generate.stdout).first)
            #expect(line["raw_text"] as? String == sample["output"] as? String, "seed \(seed)")
        }
    }

    @Test("a dtype that is not f32, f16, bf16, q8 or q4 is an error naming the file, line and key; long float names still work")
    func badDType() async throws {
        let scratch = try Scratch()
        defer { scratch.cleanup() }
        let suite = scratch.url.appendingPathComponent("bad.yaml")
        try Data("""
        models:
          - model: demo-calm
            dtype: bfloat16
          - model: demo-rinna-sft
            dtype: q5
        prompts:
          - {id: p, completion: x, instruction: y}
        """.utf8).write(to: suite)
        let result = try await KataribeBinary.run(["compare", suite.path, "--output", scratch.url.appendingPathComponent("out").path])
        #expect(result.status == 2)
        #expect(result.stderr.contains("\(suite.path):5:") && result.stderr.contains("models[1].dtype")
                && result.stderr.contains("\"q5\"") && result.stderr.contains("f32, f16, bf16, q8, q4"), "\(result.stderr)")
    }
}
