import ArgumentParser
import Foundation
import KataribeApp
import KataribeGeneration
import Synchronization

/// `kataribe chat --model M`: a multi-turn conversation with an instruction model.
struct ChatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Chat with an instruction model (its chat template, or rinna's chat format), one line per message.",
        discussion: """
        Reads one message per line from stdin and streams each reply. The whole conversation is the \
        prompt of the next reply; when it no longer fits the context, the oldest exchanges are dropped.

        Commands: /system <text> sets the system prompt, /reset forgets the conversation, /help lists \
        the commands, /exit (or Ctrl-D) quits. On a terminal, Ctrl-C stops a reply in progress.

        On a terminal the line can be edited: Left/Right, Home/End (Ctrl-A/Ctrl-E), Backspace/Delete, \
        Ctrl-U and Ctrl-K delete to the start and the end, Ctrl-W the word before the cursor, Ctrl-C \
        clears the line, Up/Down go through the lines entered before. They are kept in \
        ~/.kataribe_history (KATARIBE_HISTORY_FILE names another file; set to nothing, none is written).

        Also works with stdin that is not a terminal (no prompt, one reply per line), e.g. \
        printf 'こんにちは\\n日本の首都は？\\n' | kataribe chat --model demo-rinna-sft
        """)

    @OptionGroup var modelArguments: ModelArguments

    @Option(name: .long, help: "Prompt format (default: the preset's).")
    var format: PromptFormat?

    @Option(name: .long, help: ArgumentHelp(
        "A system message at the start of the conversation (kept after /reset).",
        discussion: "Formats without a system role (rinna's, Gemma 2's template) put it in front of the first user message."))
    var system: String?

    @OptionGroup(title: "Sampling") var sampling: SamplingArguments

    @Flag(name: .long, help: "Print timing after each reply (on stderr).")
    var stats = false

    // Lets tests (and demos) interrupt a tiny model's reply before it ends.
    @Option(name: .long, help: .hidden)
    var paceMilliseconds: Int?

    static let helpText = """
        /system <text>  set the system prompt (kept by /reset; /system alone shows it)
        /reset          forget the conversation so far
        /help           show this help
        /exit           quit (also /quit or Ctrl-D)

        """

    func run() async throws {
        let loaded = await modelArguments.load(format: format)
        guard loaded.preset.promptFormat.hasTurns else {
            CLIOutput.fail(TextGenerationError.chatNotSupported(model: loaded.name, format: loaded.preset.promptFormat).description)
        }
        let generator = TextGenerator(model: loaded)
        let interactive = Terminal.stdinIsTerminal
        let interrupts = ReplyInterrupter(enabled: interactive)
        if interactive {
            Terminal.out("Chatting with \(loaded.name). /help for commands, /exit or Ctrl-D to quit.\n")
        }
        var start = Conversation(system.map { [ChatTurn(.system, $0)] } ?? [])
        var conversation = start
        // Line editing and history at a terminal; plain lines from anything else.
        let lineReader = interactive && TerminalLineReader.isUsable ? TerminalLineReader(historyFile: .fromEnvironment()) : nil
        while true {
            let read: String?
            if let lineReader {
                read = lineReader.readLine(prompt: "> ")
            } else {
                if interactive { Terminal.out("> ") }
                read = readLine(strippingNewline: true)
            }
            guard let line = read else {
                if interactive { Terminal.out("\n") }
                return
            }
            let message = line.trimmingCharacters(in: .whitespaces)
            if message.isEmpty { continue }
            if let text = Self.systemCommandText(message) {
                if text.isEmpty {
                    Terminal.out(Self.systemPrompt(of: conversation).map { "(system prompt: \($0))\n" } ?? "(no system prompt)\n")
                } else {
                    start = Self.settingSystemPrompt(text, in: start)
                    conversation = Self.settingSystemPrompt(text, in: conversation)
                    Terminal.out(Self.systemPromptNote(format: loaded.preset.promptFormat))
                }
                continue
            }
            switch message {
            case "/exit", "/quit":
                return
            case "/reset":
                conversation = start
                Terminal.out("(conversation cleared)\n")
                continue
            case "/help":
                Terminal.out(Self.helpText)
                continue
            default:
                if message.hasPrefix("/") && !message.contains(" ") {
                    Terminal.out("unknown command \(message); /help lists the commands\n")
                    continue
                }
            }
            let asked = conversation.appending(.user, line)
            interrupts.replyBegins()
            defer { interrupts.replyEnds() }
            let stream: GenerationStream
            do {
                stream = try generator.chat(asked, parameters: sampling.parameters(),
                                            options: GenerationOptions(contextOverflow: .truncateLeft,
                                                                        tokenPacing: paceMilliseconds.map { .milliseconds($0) }))
            } catch {
                CLIOutput.error(Self.message(for: error))
                continue
            }
            interrupts.streaming(stream)
            var reply: GeneratedSample?
            var summary: GenerationSummary?
            do {
                for try await event in stream {
                    switch event {
                    case .text(let chunk, _): Terminal.out(chunk)
                    case .sampleFinished(let sample): reply = sample
                    case .finished(let result): summary = result
                    }
                }
            } catch {
                Terminal.err("\n")
                CLIOutput.error("\(error)")
            }
            Terminal.out("\n")
            guard let reply else { continue }
            conversation = asked.appending(.assistant, reply.text)
            if let summary, summary.droppedTurns > 0 {
                // The generator dropped the oldest exchanges after the system message; so does the history.
                var turns = conversation.turns
                let leading = turns.prefix { $0.role == .system }.count
                turns.removeSubrange(leading..<min(turns.count, leading + summary.droppedTurns))
                conversation = Conversation(turns)
            }
            if stats, let summary {
                Terminal.err("[\(summary.timing.statsLine) · stop: \(reply.stopReason.rawValue) · seed \(summary.seed)]\n")
            }
        }
    }

    /// The text of a `/system` command (empty for `/system` alone); nil for any other line.
    static func systemCommandText(_ message: String) -> String? {
        guard message == "/system" || message.hasPrefix("/system ") else { return nil }
        return message.dropFirst("/system".count).trimmingCharacters(in: .whitespaces)
    }

    /// `conversation` with `text` as its system prompt: it replaces the leading system turns, as
    /// chat templates take the system message only at the start. The exchanges so far stay.
    static func settingSystemPrompt(_ text: String, in conversation: Conversation) -> Conversation {
        Conversation([ChatTurn(.system, text)] + conversation.turns.drop { $0.role == .system })
    }

    static func systemPrompt(of conversation: Conversation) -> String? {
        let leading = conversation.turns.prefix { $0.role == .system }.map(\.text)
        return leading.isEmpty ? nil : leading.joined(separator: "\n")
    }

    /// What `/system <text>` answers: where the text goes when the format has no system role.
    static func systemPromptNote(format: PromptFormat) -> String {
        guard !format.hasSystemRole else { return "(system prompt set)\n" }
        let which = format.name == PromptFormat.modelTemplate.name ? "this model's chat template" : "the \(format.name) prompt format"
        return "(system prompt set; \(which) has no system role, so the text is sent in front of the first user message)\n"
    }

    /// Why a message gets no reply. The oldest exchanges (then the oldest tokens) are already dropped
    /// to fit, so a prompt too long means max_new_tokens alone fills the context: generate's advice
    /// (--truncate, a shorter prompt) does not apply here.
    static func message(for error: TextGenerationError) -> String {
        guard case let .promptTooLong(_, maxNewTokens, contextLength) = error else { return error.description }
        return "max_new_tokens is \(maxNewTokens), but the model's context length is \(contextLength), which leaves no room "
            + "for the conversation; start the chat again with --max-new-tokens below \(contextLength)"
    }
}

/// On a terminal, Ctrl-C stops the reply being generated; between replies it quits as usual. (While
/// `TerminalLineReader` reads a line the terminal is raw and Ctrl-C is a key that clears the line;
/// a SIGINT sent from elsewhere still quits, and the exit hook puts the terminal back.)
/// A reply begins when its message is read, not when its first token streams: Ctrl-C right after Enter
/// (while the prompt is still being tokenized) must stop that reply, not quit the chat.
final class ReplyInterrupter {
    private enum Phase {
        case waitingForInput
        case replying(GenerationStream?, interrupted: Bool)
    }

    /// Shared with the signal handler, which runs on another thread.
    private final class State: Sendable {
        let phase = Mutex<Phase>(.waitingForInput)
    }

    private let state = State()
    private var source: (any DispatchSourceSignal)?

    init(enabled: Bool) {
        guard enabled else { return }
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler { [state] in
            var replying = false
            let stream = state.phase.withLock { phase -> GenerationStream? in
                guard case .replying(let stream, _) = phase else { return nil }
                replying = true
                phase = .replying(stream, interrupted: true)
                return stream
            }
            guard replying else {
                Terminal.out("\n")
                Foundation.exit(130)
            }
            stream?.cancel()  // nil: `streaming(_:)` cancels the stream as soon as it exists
        }
        source.resume()
        self.source = source
    }

    func replyBegins() {
        state.phase.withLock { $0 = .replying(nil, interrupted: false) }
    }

    /// Hands the reply's stream to the handler; cancels it at once when Ctrl-C came before it existed.
    func streaming(_ stream: GenerationStream) {
        let interruptedAlready = state.phase.withLock { phase -> Bool in
            guard case .replying(_, let interrupted) = phase else { return false }
            phase = .replying(stream, interrupted: interrupted)
            return interrupted
        }
        if interruptedAlready { stream.cancel() }
    }

    func replyEnds() {
        state.phase.withLock { $0 = .waitingForInput }
    }
}
