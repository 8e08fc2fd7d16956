import Foundation
import KataribeHub

/// Draws download progress on stderr: a bar redrawn in place on a terminal that takes escape codes
/// (`Terminal.stderrTakesEscapes`), plain lines (every 10 % or 10 s) otherwise, so logs of
/// non-interactive runs stay readable.
final class ProgressRenderer: @unchecked Sendable {  // state guarded by `lock`
    private struct State {
        var lastLine: ContinuousClock.Instant?
        var lastPercent = -10
        var drewBar = false
    }

    private let terminal: Bool
    private let lock = NSLock()
    private var state = State()

    init(terminal: Bool) { self.terminal = terminal }

    func render(_ progress: DownloadProgress) {
        let percent = Int(progress.fractionCompleted * 100)
        let counts = "\(ByteCountText.format(progress.completedBytes))/\(ByteCountText.format(progress.totalBytes))"
        let files = "\(progress.completedFiles)/\(progress.totalFiles) files"
        let speed = Self.speed(progress)
        lock.withLock {
            if terminal {
                let width = 30
                let filled = min(width, Int(progress.fractionCompleted * Double(width)))
                let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
                write("\r\u{1B}[2K\(progress.repo) \(bar) \(String(format: "%3d", percent))% \(counts) \(speed) (\(files))")
                state.drewBar = true
            } else {
                let now = ContinuousClock.now
                let due = state.lastLine.map { now - $0 >= .seconds(10) } ?? true
                guard progress.isFinished || percent >= state.lastPercent + 10 || due else { return }
                state.lastLine = now
                state.lastPercent = percent
                write("\(progress.repo): \(percent)% \(counts) \(speed) (\(files))\n")
            }
        }
    }

    /// The rate and time left while running; once done, the average rate of the whole transfer
    /// ("done" when nothing crossed the network: every byte was on disk from an interrupted run).
    static func speed(_ progress: DownloadProgress) -> String {
        guard progress.isFinished else {
            return "\(ByteCountText.rate(progress.bytesPerSecond)) ETA \(ByteCountText.duration(progress.secondsRemaining))"
        }
        return progress.bytesPerSecond > 0 ? "\(ByteCountText.rate(progress.bytesPerSecond)) average" : "done"
    }

    /// Ends the bar's line so the next output starts on a fresh one.
    func finish() {
        lock.withLock {
            if state.drewBar { write("\n") }
            state.drewBar = false
        }
    }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
