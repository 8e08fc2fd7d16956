import Foundation
import KataribeCompare

/// Progress of `kataribe compare` on stderr: a bar redrawn in place on a terminal that takes escape
/// codes (`Terminal.stderrTakesEscapes`; samples done, tokens/s, ETA, samples in flight), plain lines otherwise.
final class CompareProgress: @unchecked Sendable {  // state guarded by `lock`
    /// A sample started and not yet finished; several run at once when a model batches them.
    private struct RunningSample {
        let key: String
        let title: String
        let start: ContinuousClock.Instant
        var tokens = 0
    }

    private struct State {
        var total = 0
        var done = 0
        var started = ContinuousClock.now
        var loading: String?
        /// In the order they started.
        var running: [RunningSample] = []
        var lastRate: Double?
        var drewBar = false
        var lastDraw: ContinuousClock.Instant?
    }

    private let terminal: Bool
    private let lock = NSLock()
    private var state = State()

    init(terminal: Bool) { self.terminal = terminal }

    private static func sampleKey(_ label: String, _ promptID: String, _ index: Int) -> String {
        "\(label)\u{0}\(promptID)\u{0}\(index)"
    }

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
                state.loading = "loading \(label)"
                if terminal { draw(force: true) } else { line("loading \(label) (\(pending) samples)") }
            case let .modelLoaded(label, seconds):
                state.loading = nil
                line("loaded \(label) in \(String(format: "%.1f", seconds)) s")
            case let .modelFailed(label, message, samples):
                state.loading = nil
                state.done += samples
                line("\(label): failed to load: \(message)")
            case let .sampleStarted(label, promptID, index):
                state.running.append(RunningSample(key: Self.sampleKey(label, promptID, index),
                                                   title: "\(label) · \(promptID) #\(index + 1)", start: .now))
                if terminal { draw(force: true) }
            case let .sampleProgress(label, promptID, index, tokens):
                let key = Self.sampleKey(label, promptID, index)
                if let position = state.running.firstIndex(where: { $0.key == key }) { state.running[position].tokens = tokens }
                if terminal { draw(force: false) }
            case .sampleFinished(let record):
                // A sample's own rate is the model's pace only when nothing ran beside it.
                if state.running.count == 1 { state.lastRate = record.timings.tokensPerSecond }
                state.running.removeAll { $0.key == Self.sampleKey(record.modelLabel, record.promptID, record.sampleIndex) }
                state.done += 1
                if terminal {
                    draw(force: true)
                } else {
                    line("[\(state.done)/\(state.total)] \(record.modelLabel) \(record.promptID) #\(record.sampleIndex + 1): "
                        + "\(record.outputTokens) tokens, \(String(format: "%.1f", record.timings.tokensPerSecond)) tok/s\(eta())")
                }
            case .sampleFailed(let record):
                state.running.removeAll { $0.key == Self.sampleKey(record.modelLabel, record.promptID, record.sampleIndex) }
                state.done += 1
                line("[\(state.done)/\(state.total)] \(record.modelLabel) \(record.promptID) #\(record.sampleIndex + 1) failed: \(record.message)")
            case .modelClosed:
                // Samples cut short by cancellation end without an event of their own.
                state.running.removeAll()
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
        // Samples generated together each advance at their own rate; the model's pace is their sum.
        let live = state.running.filter { now - $0.start > .milliseconds(200) && $0.tokens > 0 }
        if !live.isEmpty { state.lastRate = live.reduce(0) { $0 + Double($1.tokens) / Self.seconds(now - $1.start) } }
        let rate = state.lastRate.map { String(format: " %.1f tok/s", $0) } ?? ""
        let current = state.loading ?? state.running.first?.title ?? ""
        let alongside = state.loading == nil && state.running.count > 1 ? " +\(state.running.count - 1)" : ""
        // Kept short so the line never wraps (a wrapped line cannot be redrawn in place).
        let room = 40 - alongside.count
        let shown = (current.count > room ? current.prefix(room - 1) + "…" : Substring(current)) + alongside
        write("\r\u{1B}[2K\(bar) \(state.done)/\(state.total)\(rate)\(eta()) · \(shown)")
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
