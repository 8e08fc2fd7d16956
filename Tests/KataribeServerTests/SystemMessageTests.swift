import Foundation
import KataribeApp
import KataribeGeneration
import KataribeServer
import Testing

/// A chat format with a system role, standing in for a chat-template format.
private struct TaggedChatFormat: PromptFormatStyle {
    var name: String { "tagged-test" }
    var roles: Set<ChatRole> { [.system, .user, .assistant] }

    func render(_ conversation: Conversation) -> String? {
        conversation.turns.map { "\($0.role.rawValue): \($0.text)\n" }.joined() + "assistant: "
    }
}

/// The checks compare the server's reply with generation from the token ids of the exact prompt
/// text expected, so a single character of difference in the rendered prompt shows.
@Suite("System messages reach the model through the prompt format's rule")
struct SystemMessageTests {
    static let parameters = GenerationParameters(doSample: true, temperature: 0.8, minNewTokens: 8, maxNewTokens: 8, seed: 11)

    func request(_ messages: [(String, String)]) -> [String: Any] {
        ["messages": messages.map { ["role": $0.0, "content": $0.1] }, "temperature": 0.8, "max_tokens": 8, "min_tokens": 8, "seed": 11]
    }

    func expectedReply(_ model: LoadedModel, prompt: String) async throws -> (text: String, promptTokens: Int) {
        let ids = TextGenerator(model: model).encode(prompt)
        return (try await expectedTexts(model, .tokens(ids), Self.parameters)[0], ids.count)
    }

    @Test("rinna has no system role: system and developer messages are folded into the user's turns, as before")
    func rinnaFoldsSystemMessages() async throws {
        let model = try Fixtures.rinnaChat()
        let cases: [([(String, String)], String)] = [
            ([("system", "丁寧に答えて"), ("user", "日本の首都は？")], "ユーザー: 丁寧に答えて<NL>日本の首都は？<NL>システム: "),
            ([("user", "a"), ("assistant", "b"), ("developer", "s"), ("user", "c")], "ユーザー: a<NL>システム: b<NL>ユーザー: s<NL>c<NL>システム: "),
            ([("system", "s1"), ("user", "a"), ("assistant", "b"), ("user", "c"), ("system", "s2")],
             "ユーザー: s1<NL>a<NL>システム: b<NL>ユーザー: s2<NL>c<NL>システム: "),
        ]
        try await withServer(model) { live in
            for (messages, prompt) in cases {
                let expected = try await expectedReply(model, prompt: prompt)
                let reply = try await live.post("/v1/chat/completions", request(messages))
                #expect(reply.status == 200, "\(messages)")
                let message = reply.json.choices.first?["message"] as? [String: Any]
                #expect(message?["content"] as? String == expected.text, "\(messages)")
                #expect((reply.json["usage"] as? [String: Any])?["prompt_tokens"] as? Int == expected.promptTokens, "\(messages)")
            }
        }
    }

    @Test("a format with a system role gets system messages as system turns, where they were sent")
    func systemRoleFormatKeepsSystemTurns() async throws {
        let base = try Fixtures.rinnaChat()
        var preset = base.preset
        preset.promptFormat = PromptFormat(TaggedChatFormat())
        let model = LoadedModel(name: base.name, folder: base.folder, model: base.model, tokenizer: base.tokenizer, preset: preset,
                                presetOrigin: base.presetOrigin, modelGenerationConfig: base.modelGenerationConfig)
        let expected = try await expectedReply(model, prompt: "system: 丁寧に\nuser: こんにちは\nassistant: はい\nsystem: 短く\nuser: で？\nassistant: ")
        try await withServer(model) { live in
            let reply = try await live.post("/v1/chat/completions", request([
                ("system", "丁寧に"), ("user", "こんにちは"), ("assistant", "はい"), ("developer", "短く"), ("user", "で？"),
            ]))
            #expect(reply.status == 200)
            let message = reply.json.choices.first?["message"] as? [String: Any]
            #expect(message?["content"] as? String == expected.text)
            #expect((reply.json["usage"] as? [String: Any])?["prompt_tokens"] as? Int == expected.promptTokens)
        }
    }

    @Test("messages with nothing to reply to are refused as before, whatever system messages follow")
    func nothingToReplyTo() async throws {
        try await withServer(try Fixtures.rinnaChat()) { live in
            for messages in [[("system", "s")], [("user", "a"), ("assistant", "b"), ("system", "s")]] {
                let reply = try await live.post("/v1/chat/completions", request(messages))
                #expect(reply.status == 400)
                #expect(reply.error("message") == "the last message (other than system messages) must be a user message")
                #expect(reply.error("param") == "messages")
            }
            let tool = try await live.post("/v1/chat/completions", request([("user", "a"), ("tool", "t")]))
            #expect(tool.error("param") == "messages[1].role")
        }
    }
}
