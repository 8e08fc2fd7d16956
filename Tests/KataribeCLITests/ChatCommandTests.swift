import Foundation
import KataribeApp
import KataribeGeneration
import KataribeTestSupport
import Testing

/// The rinna-style fixture model as an instruction model; short replies, seeded.
private let chatArguments = [
    "chat", "--model", "Tests/Fixtures/generation-e2e/rinna", "--preset", "rinna-3.6b-sft-v2",
    "--max-new-tokens", "6", "--min-new-tokens", "4", "--seed", "11", "--threads", "1",
]

/// What the library replies to `messages` (each reply joins the history), for comparison.
private func expectedReplies(_ messages: [String]) async throws -> [String] {
    let model = try LoadedModel(folder: TestPaths.fixture("generation-e2e/rinna"),
                                preset: ModelPresetCatalog.preset(named: "rinna-3.6b-sft-v2"))
    let generator = TextGenerator(model: model)
    var conversation = Conversation()
    var replies: [String] = []
    for message in messages {
        let asked = conversation.appending(.user, message)
        let summary = try await generator.chat(asked, parameters: GenerationParameters(minNewTokens: 4, maxNewTokens: 6, seed: 11)).collect()
        #expect(summary.samples[0].tokens.count >= 4)
        replies.append(summary.text)
        conversation = asked.appending(.assistant, summary.text)
    }
    return replies
}

@Suite("kataribe chat", .timeLimit(.minutes(3)))
struct ChatCommandTests {
    @Test("at a terminal: a question gets the streamed reply, /reset forgets, /help lists commands, /exit quits")
    func interactive() async throws {
        let replies = try await expectedReplies(["日本の首都は？", "京都は？"])
        let fresh = try await expectedReplies(["京都は？"])
        let session = try PseudoTerminalSession(chatArguments)
        #expect(await session.waitFor { $0.contains("Chatting with") && $0.hasSuffix("> ") }, "\(session.screen)")

        session.type("日本の首都は？\n")
        #expect(await session.waitFor { $0.contains("日本の首都は？\n\(replies[0])\n> ") }, "\(session.screen)")
        session.type("京都は？\n")
        #expect(await session.waitFor { $0.contains("京都は？\n\(replies[1])\n> ") }, "\(session.screen)")

        session.type("/reset\n")
        #expect(await session.waitFor { $0.contains("(conversation cleared)\n> ") }, "\(session.screen)")
        session.type("京都は？\n")
        #expect(await session.waitFor { $0.hasSuffix("京都は？\n\(fresh[0])\n> ") }, "\(session.screen)")

        session.type("/help\n")
        #expect(await session.waitFor { $0.contains("/reset  forget the conversation") }, "\(session.screen)")
        session.type("/exit\n")
        #expect(await session.exitStatus() == 0)
    }

    @Test("Ctrl-C (SIGINT) during a reply stops that reply and returns to the prompt")
    func interruptReply() async throws {
        let session = try PseudoTerminalSession([
            "chat", "--model", "Tests/Fixtures/generation-e2e/rinna", "--preset", "rinna-3.6b-sft-v2",
            "--max-new-tokens", "100", "--min-new-tokens", "100", "--seed", "1", "--threads", "1", "--stats",
            "--pace-milliseconds", "300",
        ])
        #expect(await session.waitFor { $0.hasSuffix("> ") }, "\(session.screen)")
        session.type("長い話をして\n")
        #expect(await session.waitFor { $0.replyStarted(after: "長い話をして\n") }, "\(session.screen)")
        session.process.interrupt()
        #expect(await session.waitFor { $0.contains("stop: cancelled") && $0.hasSuffix("> ") }, "\(session.screen)")
        #expect(session.process.isRunning)
        session.type("/exit\n")
        #expect(await session.exitStatus() == 0)
    }

    @Test("Ctrl-D at the prompt quits")
    func endOfInput() async throws {
        let session = try PseudoTerminalSession(chatArguments)
        #expect(await session.waitFor { $0.hasSuffix("> ") }, "\(session.screen)")
        session.endOfInput()
        #expect(await session.exitStatus() == 0)
    }

    @Test("with stdin from a pipe: no banner or prompt, one reply line per message")
    func scripted() async throws {
        let replies = try await expectedReplies(["日本の首都は？", "京都は？"])
        let result = try await KataribeBinary.run(chatArguments, input: "日本の首都は？\n京都は？\n/reset\n")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "\(replies[0])\n\(replies[1])\n(conversation cleared)\n")
    }

    @Test("a plain-format model is refused with a hint")
    func plainModel() async throws {
        let result = try await KataribeBinary.run(["chat", "--model", "Tests/Fixtures/generation-e2e/calm"], input: "x\n")
        #expect(result.status == 1)
        #expect(result.stderr.contains("no chat turns") && result.stderr.contains("demo-rinna-sft"))
    }
}

extension String {
    /// Whether visible text follows the echoed `line`: the reply has begun streaming.
    func replyStarted(after line: String) -> Bool {
        guard let echo = range(of: line) else { return false }
        return self[echo.upperBound...].contains { !$0.isWhitespace }
    }
}
