import Foundation
import KataribeApp
import KataribeGeneration
import KataribeTestSupport
import Testing

/// `/v1/chat/completions` on a model folder whose tokenizer_config.json carries a real chat template:
/// the messages are rendered by the template, system messages included where it has a system role.
/// Replies are checked against generation from the ids of the exact text transformers would render.
@Suite("Chat templates end to end through the server")
struct ChatTemplateServerTests {
    static let parameters = GenerationParameters(doSample: true, temperature: 0.8, minNewTokens: 6, maxNewTokens: 6, seed: 5)

    func request(_ messages: [(String, String)]) -> [String: Any] {
        ["messages": messages.map { ["role": $0.0, "content": $0.1] }, "temperature": 0.8, "max_tokens": 6, "min_tokens": 6, "seed": 5]
    }

    func model(template: String, tokens: [String: String]) throws -> (LoadedModel, URL) {
        let folder = try ChatTemplateFolder.make(chatTemplate: try ChatTemplateFolder.template(template), specialTokens: tokens)
        let model = try LoadedModel(folder: folder, preset: PresetInference.preset(forFolder: folder), name: "tiny-template",
                                    presetOrigin: .inferred, options: ModelLoadOptions(notices: { _ in }))
        return (model, folder)
    }

    func check(_ model: LoadedModel, _ messages: [(String, String)], renders prompt: String) async throws {
        let ids = model.tokenizer.encode(prompt, addSpecialTokens: false)
        let expected = try await expectedTexts(model, .tokens(ids), Self.parameters)[0]
        try await withServer(model) { live in
            let reply = try await live.post("/v1/chat/completions", request(messages))
            #expect(reply.status == 200, "\(reply.body)")
            let message = reply.json.choices.first?["message"] as? [String: Any]
            #expect(message?["content"] as? String == expected, "\(messages)")
            #expect((reply.json["usage"] as? [String: Any])?["prompt_tokens"] as? Int == ids.count, "\(messages)")
        }
    }

    @Test("a template with a system role (Qwen2.5) gets system and developer messages as system turns")
    func systemRole() async throws {
        let (model, folder) = try model(template: "Qwen-Qwen2.5-7B-Instruct", tokens: ["eos_token": "<|im_end|>"])
        defer { ChatTemplateFolder.remove(folder) }
        #expect(model.preset.promptFormat.hasSystemRole)
        try await check(model, [("system", "丁寧に"), ("user", "こんにちは")],
                        renders: "<|im_start|>system\n丁寧に<|im_end|>\n<|im_start|>user\nこんにちは<|im_end|>\n<|im_start|>assistant\n")
        try await check(model, [("developer", "短く"), ("user", "a")],
                        renders: "<|im_start|>system\n短く<|im_end|>\n<|im_start|>user\na<|im_end|>\n<|im_start|>assistant\n")
    }

    @Test("a template that raises for system messages (Gemma 2) gets them in front of the user's turn; one it refuses is a 400")
    func noSystemRole() async throws {
        let (model, folder) = try model(template: "google-gemma-2-2b-it", tokens: ["bos_token": "<bos>", "eos_token": "<eos>"])
        defer { ChatTemplateFolder.remove(folder) }
        #expect(!model.preset.promptFormat.hasSystemRole)
        try await check(model, [("system", "丁寧に"), ("user", "こんにちは")],
                        renders: "<bos><start_of_turn>user\n丁寧に\nこんにちは<end_of_turn>\n<start_of_turn>model\n")
        try await withServer(model) { live in
            let reply = try await live.post("/v1/chat/completions", request([("user", "a"), ("user", "b")]))
            #expect(reply.status == 400)
            #expect(reply.error("message")?.contains("Conversation roles must alternate") == true)
            #expect(reply.error("param") == "messages")
        }
    }
}
