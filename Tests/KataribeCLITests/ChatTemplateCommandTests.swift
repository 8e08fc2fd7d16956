import Foundation
import KataribeApp
import KataribeGeneration
import KataribeTestSupport
import Testing

private func jsonLines(_ text: String) throws -> [[String: Any]] {
    try text.split(separator: "\n").map { line in
        try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }
}

/// `generate` and `chat` on a model folder whose tokenizer_config.json has a chat template.
@Suite("Commands on a model with a chat template", .timeLimit(.minutes(3)))
struct ChatTemplateCommandTests {
    static let chatML = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
        + "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
    let greedy = ["--greedy", "--repetition-penalty", "1.0", "--max-new-tokens", "4"]

    @Test("generate --json reports the exact text given to the tokenizer and the ids fed to the model; --system adds a system turn")
    func generateJSON() async throws {
        let folder = try ChatTemplateFolder.make(chatTemplate: Self.chatML)
        defer { ChatTemplateFolder.remove(folder) }
        let model = try LoadedModel(folder: folder, preset: PresetInference.preset(forFolder: folder),
                                    options: ModelLoadOptions(notices: { _ in }))

        let plain = try jsonLines(await KataribeBinary.run(["generate", "--model", folder.path, "--prompt", "こんにちは", "--json"] + greedy).stdout)
        let sent = "<|im_start|>user\nこんにちは<|im_end|>\n<|im_start|>assistant\n"
        #expect(plain.first?["format"] as? String == "template")
        #expect(plain.first?["prompt"] as? String == "こんにちは")
        #expect(plain.first?["prompt_as_sent"] as? String == sent)
        #expect(plain.first?["prompt_ids"] as? [Int] == model.tokenizer.encode(sent, addSpecialTokens: false))
        #expect(plain.first?["prompt_tokens"] as? Int == (plain.first?["prompt_ids"] as? [Int])?.count)
        #expect(plain.first?["system"] == nil)

        let withSystem = try jsonLines(await KataribeBinary.run(["generate", "--model", folder.path, "--prompt", "こんにちは",
                                                                 "--system", "丁寧に", "--json"] + greedy).stdout)
        let sentWithSystem = "<|im_start|>system\n丁寧に<|im_end|>\n" + sent
        #expect(withSystem.first?["system"] as? String == "丁寧に")
        #expect(withSystem.first?["prompt_as_sent"] as? String == sentWithSystem)
        #expect(withSystem.first?["prompt_ids"] as? [Int] == model.tokenizer.encode(sentWithSystem, addSpecialTokens: false))
    }

    @Test("the ids of generate are what TextGenerator feeds the model, and its text what it generates")
    func sameAsLibrary() async throws {
        let folder = try ChatTemplateFolder.make(chatTemplate: Self.chatML)
        defer { ChatTemplateFolder.remove(folder) }
        let model = try LoadedModel(folder: folder, preset: PresetInference.preset(forFolder: folder),
                                    options: ModelLoadOptions(notices: { _ in }))
        let conversation = Conversation([ChatTurn(.system, "丁寧に"), ChatTurn(.user, "こんにちは")])
        let stream = try TextGenerator(model: model).chat(conversation, parameters: GenerationParameters(
            doSample: false, repetitionPenalty: 1.0, maxNewTokens: 4))
        var text = ""
        for try await event in stream { if case .sampleFinished(let sample) = event { text = sample.text } }
        let cli = try jsonLines(await KataribeBinary.run(["generate", "--model", folder.path, "--prompt", "こんにちは",
                                                          "--system", "丁寧に", "--json"] + greedy).stdout)
        #expect(cli.first?["text"] as? String == text)
    }

    @Test("--system on a plain-format model is refused; chat --system starts every conversation with it")
    func systemFlag() async throws {
        let refused = try await KataribeBinary.run(["generate", "--model", "Tests/Fixtures/generation-e2e/calm", "--prompt", "x",
                                                    "--system", "s"] + greedy)
        #expect(refused.status == 1 && refused.stderr.contains("--system needs a chat format"))

        let folder = try ChatTemplateFolder.make(chatTemplate: Self.chatML)
        defer { ChatTemplateFolder.remove(folder) }
        let chat = try await KataribeBinary.run(["chat", "--model", folder.path, "--system", "丁寧に", "--stats"] + greedy,
                                                input: "こんにちは\n/reset\nこんにちは\n")
        #expect(chat.status == 0, "\(chat.stderr)")
        let without = try await KataribeBinary.run(["chat", "--model", folder.path, "--stats"] + greedy, input: "こんにちは\n")
        // "[prompt N tokens in ...": the system turn is in both first prompts, before and after /reset.
        func promptSizes(_ stderr: String) -> [Int] {
            stderr.split(separator: "\n").compactMap { line in
                guard let range = line.range(of: "prompt ") else { return nil }
                return Int(line[range.upperBound...].prefix { $0.isNumber })
            }
        }
        let sizes = promptSizes(chat.stderr), plain = promptSizes(without.stderr)
        #expect(sizes.count == 2 && sizes[0] == sizes[1] && plain.count == 1 && sizes[0] > plain[0], "\(sizes) \(plain)")
    }
}
