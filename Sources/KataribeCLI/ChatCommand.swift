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

        Commands: /reset forgets the conversation, /help lists the commands, /exit (or Ctrl-D) quits. \
        On a terminal, Ctrl-C stops a reply in progress.

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
        /reset  forget the conversation so far
        /help   show this help
        /exit   quit (also /quit or Ctrl-D)

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
        let start = Conversation(system.map { [ChatTurn(.system, $0)] } ?? [])
        var conversation = start
        while true {
            if interactive { Terminal.out("> ") }
            guard let line = readLine(strippingNewline: true) else {
                if interactive { Terminal.out("\n") }
                return
            }
            let message = line.trimmingCharacters(in: .whitespaces)
            if message.isEmpty { continue }
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
                Terminal.err("error: \(error.description)\n")
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
                Terminal.err("\nerror: \(error)\n")
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
}

/// On a terminal, Ctrl-C stops the reply being generated; between replies it quits as usual.
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
