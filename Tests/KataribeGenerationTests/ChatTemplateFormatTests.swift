import Foundation
import Testing
import KataribeGeneration
import KataribeTemplates
import KataribeTestSupport

@Suite("A tokenizer's chat template as a prompt format")
struct ChatTemplateFormatTests {
    static let tokens: [String: [String: String]] = [
        "meta-llama-Llama-3.1-8B-Instruct": ["bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"],
        "Qwen-Qwen2.5-7B-Instruct": ["eos_token": "<|im_end|>"],
        "google-gemma-2-2b-it": ["bos_token": "<bos>", "eos_token": "<eos>"],
        "google-gemma-3-it": ["bos_token": "<bos>", "eos_token": "<eos>"],
        "mistralai-Mistral-7B-Instruct-v0.2": ["bos_token": "<s>", "eos_token": "</s>"],
        "mistralai-Mistral-7B-Instruct-v0.3": ["bos_token": "<s>", "eos_token": "</s>"],
        "llm-jp-3-instruct3": ["bos_token": "<s>", "eos_token": "</s>"],
    ]

    func format(_ name: String) throws -> PromptFormat {
        let template = try ChatTemplate(source: try ChatTemplateFolder.template(name), specialTokens: Self.tokens[name] ?? [:])
        return PromptFormat(try ChatTemplateFormat(template: template, origin: "\(name).jinja"))
    }

    @Test("a system role only where the template uses system messages: raising or ignoring them means none")
    func systemRoles() throws {
        for name in ["meta-llama-Llama-3.1-8B-Instruct", "Qwen-Qwen2.5-7B-Instruct", "google-gemma-3-it", "llm-jp-3-instruct3"] {
            #expect(try format(name).roles == [.system, .user, .assistant], "\(name)")
        }
        // Gemma 1/2 raise "System role not supported"; Mistral v0.2 raises on roles that do not
        // alternate; Mistral v0.3 renders the same text with or without one.
        for name in ["google-gemma-2-2b-it", "mistralai-Mistral-7B-Instruct-v0.2", "mistralai-Mistral-7B-Instruct-v0.3"] {
            #expect(try format(name).roles == [.user, .assistant], "\(name)")
        }
    }

    @Test("a typed prompt is the user's turn with the generation prompt, as apply_chat_template writes it")
    func typedText() throws {
        let qwen = try format("Qwen-Qwen2.5-7B-Instruct")
        #expect(qwen.name == "template" && qwen.hasTurns && qwen.rendersSpecialTokens && !qwen.isUnresolvedModelTemplate)
        #expect(try qwen.checkedPrompt(forText: "日本の首都は？") == "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. "
            + "You are a helpful assistant.<|im_end|>\n<|im_start|>user\n日本の首都は？<|im_end|>\n<|im_start|>assistant\n")
        #expect(qwen.prompt(forText: "日本の首都は？") == (try qwen.checkedPrompt(forText: "日本の首都は？")))
        #expect(qwen.replyMarkers == ReplyMarkers(endOfReply: "<|im_end|>"))
    }

    @Test("system turns reach a template with a system role as they are, and are folded for one without")
    func systemTurns() throws {
        let conversation = Conversation([ChatTurn(.system, "丁寧に答えて"), ChatTurn(.user, "日本の首都は？")])
        let llama = try format("meta-llama-Llama-3.1-8B-Instruct")
        let llamaPrompt = try #require(try llama.checkedPrompt(for: conversation))
        #expect(llamaPrompt.contains("<|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
            + "Today Date: 26 Jul 2024\n\n丁寧に答えて<|eot_id|>"))
        let gemma = try format("google-gemma-2-2b-it")
        #expect(try gemma.checkedPrompt(for: conversation)
            == "<bos><start_of_turn>user\n丁寧に答えて\n日本の首都は？<end_of_turn>\n<start_of_turn>model\n")
        let mistral = try format("mistralai-Mistral-7B-Instruct-v0.3")
        #expect(try mistral.checkedPrompt(for: conversation) == "<s> [INST] 丁寧に答えて\n日本の首都は？ [/INST]")
    }

    @Test("a conversation the template refuses is an error with the template's message, not a missing format")
    func refusal() throws {
        let gemma = try format("google-gemma-2-2b-it")
        let twoUsers = Conversation([ChatTurn(.user, "a"), ChatTurn(.user, "b")])
        #expect(throws: PromptFormatError.chatTemplate(message: "google-gemma-2-2b-it.jinja: the chat template refused the conversation: "
                                                        + "Conversation roles must alternate user/assistant/user/assistant/...")) {
            try gemma.checkedPrompt(for: twoUsers)
        }
        #expect(gemma.prompt(for: twoUsers) == nil)
    }

    @Test("a template that cannot render a single user message is not a format")
    func unusable() throws {
        let template = try ChatTemplate(source: "{{ raise_exception('no') }}")
        #expect(throws: PromptFormatError.self) { try ChatTemplateFormat(template: template, origin: "x") }
    }

    @Test("strftime_now reads the fixed clock when one is given")
    func clock() throws {
        let template = try ChatTemplate(source: "{{ strftime_now('%Y') }}{{ messages[0].content }}")
        let now = Date(timeIntervalSince1970: 1_000_000_000)
        let year = Calendar(identifier: .gregorian).component(.year, from: now)
        let format = PromptFormat(try ChatTemplateFormat(template: template, origin: "x", fixedNow: now))
        #expect(format.prompt(forText: "!") == "\(year)!")
    }
}
