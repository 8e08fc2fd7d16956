import Foundation
import NIOConcurrencyHelpers

/// A snapshot of a download in progress, delivered to the caller's handler (at most every 100 ms, plus
/// once when a file completes and once at the end).
public struct DownloadProgress: Sendable, Equatable {
    public var repo: String
    public var commit: String
    /// Bytes of the files being fetched that are on disk, counting a resumed prefix.
    public var completedBytes: Int64
    /// Total size of the files being fetched (files already cached are not counted).
    public var totalBytes: Int64
    public var completedFiles: Int
    public var totalFiles: Int
    /// Transfer rate over the last few seconds; once finished, the average over the whole transfer
    /// (the last seconds of a download that ends waiting on a hash say nothing about it).
    public var bytesPerSecond: Double
    /// Seconds left at the current rate; nil until the rate is known.
    public var secondsRemaining: Double?
    public var isFinished: Bool

    public var fractionCompleted: Double {
        totalBytes > 0 ? min(1, Double(completedBytes) / Double(totalBytes)) : (isFinished ? 1 : 0)
    }
}

public typealias ProgressHandler = @Sendable (DownloadProgress) -> Void

/// Aggregates byte counts from parallel transfers. Thread-safe; the handler is called outside the lock.
final class ProgressTracker: Sendable {
    private struct State {
        var progress: DownloadProgress
        var samples: [(time: ContinuousClock.Instant, transferred: Int64)] = []
        var transferred: Int64 = 0
        var lastReport: ContinuousClock.Instant?
        let started = ContinuousClock.now
    }

    private let state: NIOLockedValueBox<State>
    private let handler: ProgressHandler?
    private static let reportInterval = Duration.milliseconds(100)
    private static let rateWindow = Duration.seconds(5)

    init(repo: String, commit: String, totalBytes: Int64, totalFiles: Int, handler: ProgressHandler?) {
        self.handler = handler
        state = NIOLockedValueBox(State(progress: DownloadProgress(
            repo: repo, commit: commit, completedBytes: 0, totalBytes: totalBytes, completedFiles: 0,
            totalFiles: totalFiles, bytesPerSecond: 0, secondsRemaining: nil, isFinished: false
        )))
    }

    /// Bytes found on disk from an earlier run: they count as done but not toward the rate.
    func resumed(_ bytes: Int64) { update(force: false) { $0.progress.completedBytes += bytes } }

    /// A restarted transfer discards what it had.
    func discarded(_ bytes: Int64) { update(force: false) { $0.progress.completedBytes -= bytes } }

    func received(_ bytes: Int64) {
        update(force: false) {
            $0.progress.completedBytes += bytes
            $0.transferred += bytes
        }
    }

    func fileCompleted() { update(force: true) { $0.progress.completedFiles += 1 } }

    func finish() { update(force: true) { $0.progress.isFinished = true } }

    var current: DownloadProgress { state.withLockedValue { $0.progress } }

    /// Bytes received over the network, without resumed prefixes.
    var transferredBytes: Int64 { state.withLockedValue { $0.transferred } }

    private func update(force: Bool, _ change: (inout State) -> Void) {
        let now = ContinuousClock.now
        let report: DownloadProgress? = state.withLockedValue { state in
            change(&state)
            guard force || state.lastReport.map({ now - $0 >= Self.reportInterval }) ?? true else { return nil }
            state.lastReport = now
            // One sample per report (not per chunk) keeps the window to ~50 entries.
            state.samples.append((now, state.transferred))
            if let first = state.samples.first, now - first.time > Self.rateWindow {
                state.samples.removeAll { now - $0.time > Self.rateWindow }
            }
            if state.progress.isFinished {
                let seconds = (now - state.started).inSeconds
                state.progress.bytesPerSecond = seconds > 0 ? Double(state.transferred) / seconds : 0
            } else if let oldest = state.samples.first, now - oldest.time > .milliseconds(200) {
                let seconds = (now - oldest.time).inSeconds
                state.progress.bytesPerSecond = Double(state.transferred - oldest.transferred) / seconds
            }
            let remaining = Double(max(0, state.progress.totalBytes - state.progress.completedBytes))
            state.progress.secondsRemaining = state.progress.bytesPerSecond > 0
                ? remaining / state.progress.bytesPerSecond : (remaining == 0 ? 0 : nil)
            return state.progress
        }
        if let report, let handler { handler(report) }
    }
}

/// Human-readable byte counts, rates and durations. Sizes are binary with their IEC names (KiB, MiB,
/// GiB), one unit system for every size and speed the CLI shows.
public enum ByteCountText {
    public static func format(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var value = Double(bytes)
        var unit = 0
        while abs(value) >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        guard unit > 0 else { return "\(bytes) B" }
        return String(format: value < 10 ? "%.2f" : (value < 100 ? "%.1f" : "%.0f"), value) + " " + units[unit]
    }

    public static func rate(_ bytesPerSecond: Double) -> String {
        format(Int64(bytesPerSecond.isFinite ? bytesPerSecond : 0)) + "/s"
    }

    /// `m:ss` or `h:mm:ss`; `--:--` when unknown.
    public static func duration(_ seconds: Double?) -> String {
        guard let seconds, seconds.isFinite, seconds >= 0 else { return "--:--" }
        let total = Int(seconds.rounded())
        let (hours, minutes, secs) = (total / 3600, total / 60 % 60, total % 60)
        return hours > 0
            ? String(format: "%d:%02d:%02d", hours, minutes, secs)
            : String(format: "%d:%02d", minutes, secs)
    }
}

extension Duration {
    var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
