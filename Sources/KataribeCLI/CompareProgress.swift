import Foundation
import KataribeCompare

/// Progress of `kataribe compare` on stderr: a bar redrawn in place on a terminal (samples done,
/// tokens/s, ETA, current cell), plain lines otherwise.
final class CompareProgress: @unchecked Sendable {  // state guarded by `lock`
    private struct State {
        var total = 0
        var done = 0
        var started = ContinuousClock.now
        var current = ""
        var tokens = 0
        var sampleStart = ContinuousClock.now
        var lastRate: Double?
        var drewBar = false
        var lastDraw: ContinuousClock.Instant?
    }

    private let terminal: Bool
    private let lock = NSLock()
    private var state = State()

    init(terminal: Bool) { self.terminal = terminal }

    func handle(_ event: CompareEvent) {
        lock.withLock {
            switch event {
            case let .started(pending, alreadyFinished):
                state.total = pending
                state.started = .now
                line("\(pending) samples to run" + (alreadyFinished > 0 ? ", \(alreadyFinished) already finished (skipped)" : ""))
            case .modelSkipped(let label):
                line("\(label): every sample already finished")
            case let .modelLoading(label, pending):
                state.current = "loading \(label)"
                if terminal { draw(force: true) } else { line("loading \(label) (\(pending) samples)") }
            case let .modelLoaded(label, seconds):
                line("loaded \(label) in \(String(format: "%.1f", seconds)) s")
            case let .modelFailed(label, message, samples):
                state.done += samples
                line("\(label): failed to load: \(message)")
            case let .sampleStarted(label, promptID, index):
                state.current = "\(label) · \(promptID) #\(index + 1)"
                state.tokens = 0
                state.sampleStart = .now
                if terminal { draw(force: true) }
            case .sampleProgress(_, let tokens):
                state.tokens = tokens
                if terminal { draw(force: false) }
            case .sampleFinished(let record):
                state.done += 1
                state.lastRate = record.timings.tokensPerSecond
                if terminal {
                    draw(force: true)
                } else {
                    line("[\(state.done)/\(state.total)] \(record.modelLabel) \(record.promptID) #\(record.sampleIndex + 1): "
                        + "\(record.outputTokens) tokens, \(String(format: "%.1f", record.timings.tokensPerSecond)) tok/s\(eta())")
                }
            case .sampleFailed(let record):
                state.done += 1
                line("[\(state.done)/\(state.total)] \(record.modelLabel) \(record.promptID) #\(record.sampleIndex + 1) failed: \(record.message)")
            case .modelClosed:
                break
            }
        }
    }

    /// A message on its own line (the bar is redrawn below it).
    func note(_ text: String) {
        lock.withLock { line(text) }
    }

    func finish() {
        lock.withLock {
            if state.drewBar { write("\r\u{1B}[2K") }
            state.drewBar = false
        }
    }

    private func line(_ text: String) {
        if state.drewBar { write("\r\u{1B}[2K") }
        write(text + "\n")
        if terminal, state.drewBar { draw(force: true) }
    }

    private func draw(force: Bool) {
        let now = ContinuousClock.now
        if !force, let last = state.lastDraw, now - last < .milliseconds(100) { return }
        state.lastDraw = now
        let width = 24
        let fraction = state.total > 0 ? Double(state.done) / Double(state.total) : 1
        let filled = min(width, Int(fraction * Double(width)))
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        let elapsed = (now - state.sampleStart)
        let live = elapsed > .milliseconds(200) && state.tokens > 0
            ? Double(state.tokens) / Self.seconds(elapsed) : state.lastRate
        let rate = live.map { String(format: " %.1f tok/s", $0) } ?? ""
        // Kept short so the line never wraps (a wrapped line cannot be redrawn in place).
        let current = state.current.count > 40 ? state.current.prefix(39) + "…" : Substring(state.current)
        write("\r\u{1B}[2K\(bar) \(state.done)/\(state.total)\(rate)\(eta()) · \(current)")
        state.drewBar = true
    }

    /// Remaining samples at the average pace of this run so far.
    private func eta() -> String {
        guard state.done > 0, state.total > state.done else { return "" }
        let perSample = Self.seconds(ContinuousClock.now - state.started) / Double(state.done)
        let remaining = Int((perSample * Double(state.total - state.done)).rounded())
        return remaining >= 60 ? " ETA \(remaining / 60)m\(String(format: "%02d", remaining % 60))s" : " ETA \(remaining)s"
    }

    private static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
