import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads lines from a terminal with `LineEditor`: the terminal is in raw mode only while a line is
/// being read (so Ctrl-C during a reply is still SIGINT), and is put back however reading ends.
final class TerminalLineReader {
    private var editor: LineEditor
    private var decoder = KeyDecoder()
    /// Keys read but not used yet: what came after Enter in the same read (a pasted second line).
    private var queued: [EditorKey] = []
    private let historyFile: ChatHistoryFile?
    private var firstVisible = 0
    /// Whether the screen shows the prompt and the whole line with the cursor at its end, so that
    /// text typed at the end can just be written.
    private var showsWholeLineAtEnd = true

    /// Whether stdin and stdout are a terminal that can move the cursor: otherwise lines are read
    /// as the terminal (or pipe) delivers them.
    static var isUsable: Bool {
        isatty(STDIN_FILENO) == 1 && isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["TERM"] != "dumb"
    }

    init(historyFile: ChatHistoryFile?) {
        self.historyFile = historyFile
        editor = LineEditor(history: historyFile?.load() ?? [], historyLimit: ChatHistoryFile.limit)
    }

    /// The next line, or nil at the end of input (Ctrl-D on an empty line, the terminal gone).
    func readLine(prompt: String) -> String? {
        guard RawTerminalMode.enable() else {
            Terminal.out(prompt)
            return Swift.readLine(strippingNewline: true)
        }
        defer { RawTerminalMode.disable() }
        Terminal.out(prompt)
        firstVisible = 0
        showsWholeLineAtEnd = true
        while true {
            if queued.isEmpty {
                guard readKeys() else { return nil }
                continue
            }
            var stale = false
            while !queued.isEmpty {
                let key = queued.removeFirst()
                let atEnd = editor.cursor == editor.characters.count
                switch editor.apply(key) {
                case .editing:
                    if case .text(let text) = key, atEnd, showsWholeLineAtEnd, !stale, fitsWhole(prompt) {
                        Terminal.out(text)
                    } else {
                        stale = true
                    }
                case .submitted(let line, let added):
                    if stale || !showsWholeLineAtEnd {
                        // The line in full, wrapping if it is long, as it stays in the scrollback.
                        Terminal.out("\r\u{1B}[K" + prompt + line + "\n")
                    } else {
                        Terminal.out("\n")
                    }
                    if added { historyFile?.append(line) }
                    return line
                case .endOfInput:
                    return nil
                case .interrupted:
                    Terminal.out("^C\n" + prompt)
                    firstVisible = 0
                    showsWholeLineAtEnd = true
                    stale = false
                case .clearScreen:
                    Terminal.out("\u{1B}[H\u{1B}[2J")
                    stale = true
                }
            }
            if stale { redraw(prompt) }
        }
    }

    /// Whether the prompt and the whole line fit on one row.
    private func fitsWhole(_ prompt: String) -> Bool {
        DisplayWidth.of(prompt) + DisplayWidth.of(editor.text) < Self.columns()
    }

    /// Rewrites the row: the prompt, the part of the line that fits, the cursor in place.
    private func redraw(_ prompt: String) {
        let promptWidth = DisplayWidth.of(prompt)
        // One column spare: a row filled to the last column leaves the cursor in a pending wrap.
        let view = LineEditor.view(of: editor.characters, cursor: editor.cursor,
                                   width: Self.columns() - promptWidth - 1, firstVisible: firstVisible)
        firstVisible = view.firstVisible
        var out = "\r" + prompt + view.text + "\u{1B}[K"
        let atEnd = editor.cursor == editor.characters.count
        if !atEnd {
            out += "\r"
            let column = promptWidth + view.cursorColumn
            if column > 0 { out += "\u{1B}[\(column)C" }
        }
        showsWholeLineAtEnd = view.isWholeLine && atEnd
        Terminal.out(out)
    }

    /// Reads what the terminal has (waiting for at least one byte); false at end of input.
    private func readKeys() -> Bool {
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = buffer.withUnsafeMutableBytes { read(STDIN_FILENO, $0.baseAddress, $0.count) }
        if count < 0 && errno == EINTR { return true }
        guard count > 0 else { return false }
        queued += decoder.keys(from: buffer[..<count])
        // An escape sequence arrives in one write; an ESC with nothing after it was the Escape key.
        if decoder.awaitsEscapeSequence && !Self.inputArrives(withinMilliseconds: 50) { decoder.dropPendingEscape() }
        return true
    }

    private static func inputArrives(withinMilliseconds timeout: Int32) -> Bool {
        var descriptor = pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, timeout) > 0
    }

    private static func columns() -> Int {
        var size = winsize()
        let result = withUnsafeMutablePointer(to: &size) { ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), $0) }
        return result == 0 && size.ws_col > 0 ? Int(size.ws_col) : 80
    }
}

/// Raw mode for stdin's terminal (no echo, no line buffering, Ctrl-C and Ctrl-Z as keys), with the
/// saved settings restored by `disable()`, at exit, and on a signal that ends the process.
enum RawTerminalMode {
    private struct Saved {
        var settings = termios()
        /// Read by signal handlers: set only while the terminal is raw.
        var active: sig_atomic_t = 0
    }

    /// Allocated once, before any handler can run, so the handlers only read memory (no lazy
    /// initialisation or locks inside a signal handler).
    nonisolated(unsafe) private static let saved: UnsafeMutablePointer<Saved> = {
        let pointer = UnsafeMutablePointer<Saved>.allocate(capacity: 1)
        pointer.initialize(to: Saved())
        return pointer
    }()

    private typealias Handler = @convention(c) (Int32) -> Void
    nonisolated(unsafe) private static var previousHandlers: [(Int32, Handler?)] = []
    nonisolated(unsafe) private static var exitHookInstalled = false

    /// Signals that end the process by default: their handler puts the terminal back first. (In
    /// raw mode the keyboard sends no signals; these come from elsewhere: kill, a closed window.)
    /// SIGINT keeps whatever handler it has (chat's, which ends by `exit`, and so the exit hook).
    private static let fatalSignals = [SIGTERM, SIGHUP, SIGQUIT]

    /// Puts stdin's terminal in raw mode; false when it cannot (then nothing changed).
    static func enable() -> Bool {
        let state = saved
        guard state.pointee.active == 0 else { return true }
        var settings = termios()
        guard tcgetattr(STDIN_FILENO, &settings) == 0 else { return false }
        state.pointee.settings = settings
        var raw = settings
        raw.c_iflag &= ~tcflag_t(BRKINT | ICRNL | INPCK | ISTRIP | IXON)
        raw.c_cflag |= tcflag_t(CS8)
        raw.c_lflag &= ~tcflag_t(ECHO | ICANON | IEXTEN | ISIG)
        withUnsafeMutableBytes(of: &raw.c_cc) { cc in
            cc[Int(VMIN)] = 1
            cc[Int(VTIME)] = 0
        }
        if !exitHookInstalled {
            exitHookInstalled = true
            atexit { RawTerminalMode.restoreNow() }
        }
        state.pointee.active = 1
        previousHandlers = fatalSignals.map { signalNumber in
            (signalNumber, signal(signalNumber) { received in
                RawTerminalMode.restoreNow()
                signal(received, SIG_DFL)
                raise(received)
            })
        }
        // TCSANOW, not TCSAFLUSH: what was typed ahead during a reply is kept, and edited.
        guard tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0 else {
            disable()
            return false
        }
        return true
    }

    /// Restores the terminal settings that `enable()` saved.
    static func disable() {
        guard saved.pointee.active != 0 else { return }
        restoreNow()
        for (signalNumber, handler) in previousHandlers { signal(signalNumber, handler) }
        previousHandlers = []
    }

    /// Async-signal-safe: `tcsetattr` and plain memory only.
    private static func restoreNow() {
        let state = saved
        guard state.pointee.active != 0 else { return }
        state.pointee.active = 0
        _ = tcsetattr(STDIN_FILENO, TCSANOW, &state.pointee.settings)
    }
}

/// The chat's lines kept across sessions: `~/.kataribe_history`, or `KATARIBE_HISTORY_FILE`
/// (set to nothing: no file). One line per entry, readable by its owner only.
struct ChatHistoryFile {
    static let limit = 1000
    let path: String

    static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> ChatHistoryFile? {
        if let path = environment["KATARIBE_HISTORY_FILE"] {
            return path.isEmpty ? nil : ChatHistoryFile(path: path)
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        guard !home.isEmpty else { return nil }
        return ChatHistoryFile(path: (home as NSString).appendingPathComponent(".kataribe_history"))
    }

    /// The last `limit` lines; the file is cut back to them once it holds twice as many.
    func load() -> [String] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        let kept = Array(lines.suffix(Self.limit))
        if lines.count > 2 * Self.limit {
            let temporary = path + ".\(getpid()).tmp"
            if FileManager.default.createFile(atPath: temporary, contents: Data(kept.map { $0 + "\n" }.joined().utf8),
                                              attributes: [.posixPermissions: 0o600]) {
                if rename(temporary, path) != 0 { unlink(temporary) }
            }
        }
        return kept
    }

    /// Adds a line (best effort: a history that cannot be written is not worth stopping the chat).
    func append(_ line: String) {
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT, 0o600)
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
    }
}
