import Foundation
import KataribeApp
import KataribeGeneration
import KataribeTestSupport
import Testing

/// `skip_special_tokens` as vLLM defaults it: true, whatever the preset decodes with for parity
/// with a model card (rinna's cards keep `</s>`).
@Suite("Special tokens in completion text")
struct SpecialTokenTests {
    /// The trained rinna-style demo model, whose replies end with `</s>` (the tiny fixture rarely ends).
    static func demoRinna() throws -> LoadedModel {
        try LoadedModel(folder: TestPaths.packageRoot.appendingPathComponent("Models/demo-rinna-sft"),
                        preset: ModelPresetCatalog.preset(named: "demo-rinna-sft"), name: "demo-rinna-sft")
    }

    @Test("/v1/completions leaves the eos token out of the text by default; skip_special_tokens: false keeps it")
    func completionDropsEndOfSequence() async throws {
        try await withServer(try Self.demoRinna()) { live in
            var stopped = 0
            for seed in 1...8 {
                let request: [String: Any] = ["prompt": "ユーザー: 日本の首都は？<NL>システム: ", "max_tokens": 40, "seed": seed]
                let plain = try await live.post("/v1/completions", request)
                #expect(plain.status == 200, "\(plain.body)")
                let choice = try #require(plain.json.choices.first)
                let text = try #require(choice["text"] as? String)
                #expect(!text.contains("</s>"), "seed \(seed): \(text)")

                var streaming = request
                streaming["stream"] = true
                let streamed = try await live.post("/v1/completions", streaming)
                #expect(streamed.streamedTexts[0] == text, "seed \(seed)")

                var keeping = request
                keeping["skip_special_tokens"] = false
                let kept = try await live.post("/v1/completions", keeping)
                let keptText = try #require(kept.json.choices.first?["text"] as? String)
                if choice["finish_reason"] as? String == "stop" {
                    stopped += 1
                    #expect(keptText == text + "</s>", "seed \(seed)")
                } else {
                    #expect(keptText == text, "seed \(seed)")
                }
            }
            #expect(stopped > 0, "no reply ended with eos: nothing was checked")
        }
    }
}
