import Foundation
@testable import KataribeCLI
import KataribeApp
import KataribeGeneration
import KataribeTestSupport
import Testing

/// The rinna-style fixture model as an instruction model; short replies, seeded.
private let chatArguments = [
    "chat", "--model", "Tests/Fixtures/generation-e2e/rinna", "--preset", "rinna-3.6b-sft-v2",
    "--max-new-tokens", "6", "--min-new-tokens", "4", "--seed", "11", "--threads", "1",
]

/// What the library replies to `messages` (each reply joins the history), for comparison;
/// `system[i]` becomes the system prompt before message `i` (at the start of the conversation).
private func expectedReplies(_ messages: [String], system: [Int: String] = [:]) async throws -> [String] {
    let model = try LoadedModel(folder: TestPaths.fixture("generation-e2e/rinna"),
                                preset: ModelPresetCatalog.preset(named: "rinna-3.6b-sft-v2"))
    let generator = TextGenerator(model: model)
    var conversation = Conversation()
    var replies: [String] = []
    for (index, message) in messages.enumerated() {
        if let prompt = system[index] {
            conversation = Conversation([ChatTurn(.system, prompt)] + conversation.turns.filter { $0.role != .system })
        }
        let asked = conversation.appending(.user, message)
        let summary = try await generator.chat(asked, parameters: GenerationParameters(minNewTokens: 4, maxNewTokens: 6, seed: 11)).collect()
        #expect(summary.samples[0].tokens.count >= 4)
        replies.append(summary.text)
        conversation = asked.appending(.assistant, summary.text)
    }
    return replies
}

/// `kataribe chat` at a pseudo-terminal that can move the cursor (whatever TERM the tests have),
/// with its history in `historyFile` (none by default: tests leave ~/.kataribe_history alone).
private func chatSession(_ arguments: [String], historyFile: String = "") throws -> PseudoTerminalSession {
    try PseudoTerminalSession(arguments, environment: ["TERM": "xterm", "KATARIBE_HISTORY_FILE": historyFile])
}

@Suite("kataribe chat", .timeLimit(.minutes(3)))
struct ChatCommandTests {
    @Test("a max_new_tokens that fills the context gets advice chat can follow, not generate's --truncate")
    func noRoomForTheConversation() async throws {
        let result = try await KataribeBinary.run([
            "chat", "--model", "Tests/Fixtures/generation-e2e/rinna", "--preset", "rinna-3.6b-sft-v2", "--max-new-tokens", "500",
            "--threads", "1",
        ], input: "日本の首都は？\n")
        #expect(result.status == 0, "chat goes on after a message it cannot answer")
        #expect(result.stderr.contains("error: max_new_tokens is 500, but the model's context length is 128"), "\(result.stderr)")
        #expect(result.stderr.contains("--max-new-tokens below 128") && !result.stderr.contains("--truncate"), "\(result.stderr)")
    }

    @Test("at a terminal: a question gets the streamed reply, /reset forgets, /help lists commands, /exit quits")
    func interactive() async throws {
        let replies = try await expectedReplies(["日本の首都は？", "京都は？"])
        let fresh = try await expectedReplies(["京都は？"])
        let session = try chatSession(chatArguments)
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
        #expect(await session.waitFor { $0.contains("/reset          forget the conversation") && $0.contains("/system <text>") },
                "\(session.screen)")
        session.type("/exit\n")
        #expect(await session.exitStatus() == 0)
    }

    @Test("at a terminal: arrow keys edit the line before Enter, Up recalls it, the history file keeps it")
    func lineEditing() async throws {
        let replies = try await expectedReplies(["日本の首都は？", "日本の首都は？"])
        let history = FileManager.default.temporaryDirectory.appendingPathComponent("kataribe-history-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: history) }
        let session = try chatSession(chatArguments, historyFile: history.path)
        #expect(await session.waitFor { $0.hasSuffix("> ") }, "\(session.screen)")

        // Two Left presses, then 都 goes in before は？: the model gets the edited line, not ^[[D.
        session.type("日本の首は？\u{1B}[D\u{1B}[D都\r")
        #expect(await session.waitFor { $0.contains("日本の首都は？\n\(replies[0])\n> ") }, "\(session.screen)")
        #expect(!session.screen.contains("^[") && !session.screen.contains("[D"), "\(session.screen)")

        // Up shows the line again (the row after the last prompt), Enter sends it.
        session.type("\u{1B}[A")
        #expect(await session.waitFor { $0.components(separatedBy: "> ").last?.contains("日本の首都は？") == true },
                "\(session.screen)")
        session.type("\r")
        #expect(await session.waitFor { $0.hasSuffix("\n\(replies[1])\n> ") }, "\(session.screen)")
        session.type("/exit\r")
        #expect(await session.exitStatus() == 0)
        // A line entered twice in a row is kept once.
        #expect(try String(contentsOf: history, encoding: .utf8) == "日本の首都は？\n/exit\n")

        // The next session starts with that history; Ctrl-C drops the line and stays, Ctrl-D quits.
        let next = try chatSession(chatArguments, historyFile: history.path)
        #expect(await next.waitFor { $0.hasSuffix("> ") }, "\(next.screen)")
        next.type("\u{1B}[A\u{1B}[A")
        #expect(await next.waitFor { $0.components(separatedBy: "> ").last?.contains("日本の首都は？") == true }, "\(next.screen)")
        next.type("\u{03}")
        #expect(await next.waitFor { $0.hasSuffix("^C\n> ") }, "\(next.screen)")
        #expect(next.process.isRunning)
        next.endOfInput()
        #expect(await next.exitStatus() == 0)
    }

    @Test("Ctrl-C (SIGINT) during a reply stops that reply and returns to the prompt")
    func interruptReply() async throws {
        let session = try chatSession([
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
        let session = try chatSession(chatArguments)
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

    @Test("/system sets the system prompt of the following replies; rinna's format has no system role and says so")
    func systemPrompt() async throws {
        let replies = try await expectedReplies(["日本の首都は？", "京都は？"], system: [0: "丁寧に答えて", 1: "短く"])
        let result = try await KataribeBinary.run(
            chatArguments, input: "/system\n/system 丁寧に答えて\n日本の首都は？\n/system 短く\n京都は？\n/reset\n/system\n")
        #expect(result.status == 0, "\(result.stderr)")
        let note = "(system prompt set; the rinna-chat prompt format has no system role, so the text is sent in front of the first user message)\n"
        #expect(result.stdout == "(no system prompt)\n" + note + "\(replies[0])\n" + note + "\(replies[1])\n"
                + "(conversation cleared)\n(system prompt: 短く)\n")
    }

    @Test("/system replaces the system turns at the start and keeps the exchanges")
    func systemCommand() {
        #expect(ChatCommand.systemCommandText("/system") == "")
        #expect(ChatCommand.systemCommandText("/system  敬語で ") == "敬語で")
        #expect(ChatCommand.systemCommandText("/systems x") == nil)
        #expect(ChatCommand.systemCommandText("hello") == nil)
        let conversation = Conversation([ChatTurn(.system, "old"), ChatTurn(.user, "a"), ChatTurn(.assistant, "b")])
        #expect(ChatCommand.settingSystemPrompt("new", in: conversation)
                == Conversation([ChatTurn(.system, "new"), ChatTurn(.user, "a"), ChatTurn(.assistant, "b")]))
        #expect(ChatCommand.settingSystemPrompt("new", in: Conversation()) == Conversation([ChatTurn(.system, "new")]))
        #expect(ChatCommand.systemPromptNote(format: PromptFormat(TaggedFormat())) == "(system prompt set)\n")
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

/// A format with a system role.
private struct TaggedFormat: PromptFormatStyle {
    var name: String { "tagged-test" }
    var roles: Set<ChatRole> { [.system, .user, .assistant] }
    func render(_ conversation: Conversation) -> String? { conversation.turns.map(\.text).joined() }
}
