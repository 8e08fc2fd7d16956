import Foundation
import Testing
import KataribeApp
import KataribeGeneration
import KataribeTestSupport

/// A model folder's chat template becomes its prompt format when nothing says otherwise, is
/// rendered as transformers renders it, and its text is tokenized without special tokens added.
@Suite("Model folders with a chat template")
struct ChatTemplateLoadingTests {
    static let chatML = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
        + "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"

    func withFolder<T>(chatTemplate: Any? = nil, jinjaFile: String? = nil, specialTokens: [String: String] = [:],
                       _ body: (URL) async throws -> T) async throws -> T {
        let folder = try ChatTemplateFolder.make(chatTemplate: chatTemplate, jinjaFile: jinjaFile, specialTokens: specialTokens)
        defer { ChatTemplateFolder.remove(folder) }
        return try await body(folder)
    }

    func load(_ folder: URL, format: PromptFormat? = nil) async throws(ModelLoadError) -> LoadedModel {
        try await LoadedModel.load(folder.path, options: ModelLoadOptions(
            presetOverrides: format.map { ModelPresetOverrides(promptFormat: $0) }, notices: { _ in }))
    }

    @Test("a folder that matches no preset and ships a template gets the template (rinna-style tokenizer or not)")
    func inferred() async throws {
        try await withFolder(chatTemplate: Self.chatML) { folder in
            let model = try await load(folder)
            #expect(model.presetOrigin == .inferred)
            #expect(model.preset.promptFormat.name == "template" && model.preset.promptFormat.style is ChatTemplateFormat)
            #expect(model.preset.promptFormat.roles == [.system, .user, .assistant])
            let prepared = try TextGenerator(model: model).prepare(.text("こんにちは"), parameters: GenerationParameters(maxNewTokens: 8))
            #expect(prepared.promptText == "<|im_start|>user\nこんにちは<|im_end|>\n<|im_start|>assistant\n")
            #expect(prepared.promptTokens == model.tokenizer.encode(prepared.promptText!, addSpecialTokens: false))
            // Planning a suite (before anything loads) sees the same: `template`, with turns.
            let planned = try #require(try ModelResolver().plannedPreset(for: folder.path))
            #expect(planned.preset.promptFormat == .modelTemplate)
        }
        // Without a template the folder keeps the plain prompts its tokenizer family gets.
        try await withFolder { folder in
            let model = try await load(folder)
            #expect(model.preset.promptFormat == .plain)
        }
    }

    @Test("the rendered text is tokenized with add_special_tokens=False, even where the preset adds them")
    func noSpecialTokensTwice() async throws {
        try await withFolder(chatTemplate: "{{ bos_token }}{{ messages[0]['content'] }}", specialTokens: ["bos_token": "<s>"]) { folder in
            let loaded = try await load(folder)
            var preset = loaded.preset
            preset.addSpecialTokens = true  // the rinna-style (T5) tokenizer would append </s>
            let model = LoadedModel(name: loaded.name, folder: folder, model: loaded.model, tokenizer: loaded.tokenizer, preset: preset)
            let prepared = try TextGenerator(model: model).prepare(.text("日本"))
            #expect(prepared.promptText == "<s>日本")
            #expect(prepared.promptTokens == model.tokenizer.encode("<s>日本", addSpecialTokens: false))
            #expect(prepared.promptTokens != model.tokenizer.encode("<s>日本", addSpecialTokens: true))
            // A plain format over the same model still adds them, as the preset says.
            let plain = try TextGenerator(model: model).prepare(.text("日本"), options: GenerationOptions(format: .plain))
            #expect(plain.promptTokens == model.tokenizer.encode("日本", addSpecialTokens: true))
        }
    }

    @Test("chat_template.jinja wins over tokenizer_config.json; a list of named templates gives the default one")
    func templateSources() async throws {
        try await withFolder(chatTemplate: "config:{{ messages[0].content }}", jinjaFile: "file:{{ messages[0].content }}\n") { folder in
            let model = try await load(folder)
            #expect(try TextGenerator(model: model).prepare(.text("x")).promptText == "file:x")
        }
        let named: [[String: String]] = [["name": "tool_use", "template": "tools:{{ messages[0].content }}"],
                                         ["name": "default", "template": "default:{{ messages[0].content }}"]]
        try await withFolder(chatTemplate: named) { folder in
            let model = try await load(folder)
            #expect(try TextGenerator(model: model).prepare(.text("x")).promptText == "default:x")
        }
        try await withFolder(chatTemplate: [["name": "tool_use", "template": "x"]]) { folder in
            await #expect(throws: ModelLoadError.self) { try await load(folder) }
        }
    }

    @Test("--format template on a folder without one, or a template the interpreter cannot read, fail at load with the file")
    func loadErrors() async throws {
        try await withFolder { folder in
            do {
                _ = try await load(folder, format: .modelTemplate)
                Issue.record("loaded without a template")
            } catch let error as ModelLoadError {
                guard case .noChatTemplate = error else { Issue.record("\(error)"); return }
                #expect(error.description.contains("has no chat template"))
            }
        }
        try await withFolder(chatTemplate: "{% for x in y %}") { folder in
            do {
                _ = try await load(folder)
                Issue.record("loaded a broken template")
            } catch let error as ModelLoadError {
                guard case .chatTemplate = error else { Issue.record("\(error)"); return }
                #expect(error.description.contains("tokenizer_config.json") && error.description.contains("endfor"))
            }
            // Another format needs no template, so a broken one does not stand in the way.
            let plain = try await load(folder, format: .plain)
            #expect(plain.preset.promptFormat == .plain)
        }
    }

    @Test("system turns: kept for a template with a system role, folded into the user's turn for one that raises")
    func systemTurns() async throws {
        let conversation = Conversation([ChatTurn(.system, "丁寧に"), ChatTurn(.user, "こんにちは")])
        try await withFolder(chatTemplate: Self.chatML) { folder in
            let prepared = try TextGenerator(model: try await load(folder)).prepare(
                .conversation(conversation), parameters: GenerationParameters(maxNewTokens: 8))
            #expect(prepared.promptText == "<|im_start|>system\n丁寧に<|im_end|>\n<|im_start|>user\nこんにちは<|im_end|>\n<|im_start|>assistant\n")
        }
        let gemma = try ChatTemplateFolder.template("google-gemma-2-2b-it")
        try await withFolder(chatTemplate: gemma, specialTokens: ["bos_token": "<bos>"]) { folder in
            let model = try await load(folder)
            #expect(!model.preset.promptFormat.hasSystemRole)
            let prepared = try TextGenerator(model: model).prepare(.conversation(conversation), parameters: GenerationParameters(maxNewTokens: 8))
            #expect(prepared.promptText == "<bos><start_of_turn>user\n丁寧に\nこんにちは<end_of_turn>\n<start_of_turn>model\n")
            // A conversation the template refuses is an error naming the template's reason.
            let twoUsers = Conversation([ChatTurn(.user, "a"), ChatTurn(.user, "b")])
            #expect(throws: TextGenerationError.self) { try TextGenerator(model: model).prepare(.conversation(twoUsers)) }
        }
    }

    @Test("a long conversation drops its oldest exchanges but keeps the system message")
    func truncationKeepsSystem() async throws {
        try await withFolder(chatTemplate: Self.chatML) { folder in
            let model = try await load(folder)
            var conversation = Conversation([ChatTurn(.system, "短く")])
            for i in 0..<6 { conversation = conversation.appending(.user, "質問\(i)").appending(.assistant, "答え\(i)") }
            conversation = conversation.appending(.user, "最後")
            let prepared = try TextGenerator(model: model).prepare(
                .conversation(conversation), parameters: GenerationParameters(maxNewTokens: 8),
                options: GenerationOptions(contextOverflow: .truncateLeft))
            #expect(prepared.droppedTurns > 0 && prepared.droppedTurns % 2 == 0 && prepared.droppedPromptTokens == 0)
            #expect(prepared.promptText?.hasPrefix("<|im_start|>system\n短く<|im_end|>\n<|im_start|>user\n") == true)
            #expect(prepared.promptText?.hasSuffix("<|im_start|>user\n最後<|im_end|>\n<|im_start|>assistant\n") == true)
        }
    }
}
