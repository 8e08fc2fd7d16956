#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Synchronization

/// `results.jsonl` in an output folder, opened for appending by one run at a time.
///
/// - Every entry is written as one line with a single `write` and made durable with `fsync` before
///   `append` returns, so a finished sample survives Ctrl-C, a crash or SIGKILL.
/// - A failed write is rolled back (truncated to the size before it), so the file never keeps half a
///   line from this process.
/// - Opening repairs the trace of an interrupted run: damaged trailing lines are truncated away and a
///   `note` record says what was removed; the sample they held is simply not finished, so it is redone.
/// - An exclusive `flock` on `.lock` in the folder keeps a second run from writing to it concurrently.
/// - `append` may be called from many tasks at once: writes are serialized by a mutex.
public final class ResultsStore: Sendable {
    private struct State {
        var entries: [ResultEntry]
        var finished: Set<SampleID>
    }

    private struct SampleID: Hashable {
        let cellKey: String
        let index: Int
    }

    public let directory: URL
    public let fileURL: URL
    /// What opening repaired or skipped (for the user's terminal).
    public let recoveryNotes: [String]
    private let fd: Int32
    private let lockFD: Int32
    private let state: Mutex<State>

    public static let lockFileName = ".lock"

    /// Opens (creating the folder and file when needed), takes the folder's lock, repairs a damaged tail.
    public init(directory: URL) throws(ResultsStoreError) {
        self.directory = directory
        fileURL = directory.appendingPathComponent(ResultsLog.fileName)
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw .cannotCreateDirectory(path: directory.path, reason: (error as NSError).localizedDescription)
        }
        let lockPath = directory.appendingPathComponent(Self.lockFileName).path
        let lockFD = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard lockFD >= 0 else { throw .cannotOpen(path: lockPath, reason: Self.errnoText()) }
        guard flock(lockFD, LOCK_EX | LOCK_NB) == 0 else {
            let busy = errno == EWOULDBLOCK
            let reason = Self.errnoText()
            close(lockFD)
            throw busy ? .locked(path: directory.path) : .cannotOpen(path: lockPath, reason: reason)
        }
        let existed = FileManager.default.fileExists(atPath: fileURL.path)
        let fd = open(fileURL.path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            let reason = Self.errnoText()
            close(lockFD)
            throw .cannotOpen(path: fileURL.path, reason: reason)
        }
        self.fd = fd
        self.lockFD = lockFD
        if !existed { Self.syncDirectory(directory) }

        var log: ResultsLog
        do {
            log = ResultsLog.parse(try Data(contentsOf: fileURL), file: fileURL.path)
        } catch {
            close(fd)
            close(lockFD)
            throw .unreadable(path: fileURL.path, reason: (error as NSError).localizedDescription)
        }
        var notes = log.warnings
        var repair: NoteRecord?
        if let tail = log.corruptTail {
            guard ftruncate(fd, off_t(tail.lowerBound)) == 0, fsync(fd) == 0 else {
                let reason = Self.errnoText()
                close(fd)
                close(lockFD)
                throw .writeFailed(path: fileURL.path, reason: "cannot remove the damaged last line: \(reason)")
            }
            let message = "removed \(tail.count) bytes of damaged or incomplete last line(s) from line "
                + "\(log.corruptTailLine ?? 0) (left by an interrupted run); their samples will be redone"
            notes.append("\(fileURL.path): \(message)")
            repair = NoteRecord(message: message, at: Timestamp.now())
        }
        let finished = Set(log.entries.compactMap { entry -> SampleID? in
            if case .sample(let s) = entry { return SampleID(cellKey: s.cellKey, index: s.sampleIndex) }
            return nil
        })
        state = Mutex(State(entries: log.entries, finished: finished))
        recoveryNotes = notes
        if let repair { try append(.note(repair)) }
    }

    deinit {
        close(fd)
        close(lockFD)
    }

    /// Everything read at open plus everything appended since, in file order.
    public var entries: [ResultEntry] { state.withLock { $0.entries } }

    /// Whether a `sample` record exists for this cell key and 0-based sample index.
    public func isFinished(cellKey: String, sampleIndex: Int) -> Bool {
        state.withLock { $0.finished.contains(SampleID(cellKey: cellKey, index: sampleIndex)) }
    }

    /// Writes one line durably (write + fsync) before returning.
    public func append(_ entry: ResultEntry) throws(ResultsStoreError) {
        let line: Data
        do { line = try entry.jsonLine() } catch {
            throw .writeFailed(path: fileURL.path, reason: "cannot encode the record: \(error)")
        }
        let path = fileURL.path
        let fd = self.fd
        try state.withLock { (state: inout State) throws(ResultsStoreError) in
            let before = lseek(fd, 0, SEEK_END)
            let written = line.withUnsafeBytes { Self.writeAll(fd, $0) }
            if let failure = written {
                if before >= 0 { _ = ftruncate(fd, before) }
                throw .writeFailed(path: path, reason: failure)
            }
            guard fsync(fd) == 0 else { throw .writeFailed(path: path, reason: "fsync: \(Self.errnoText())") }
            state.entries.append(entry)
            if case .sample(let s) = entry { state.finished.insert(SampleID(cellKey: s.cellKey, index: s.sampleIndex)) }
        }
    }

    /// nil on success, else the reason.
    static func writeAll(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) -> String? {
        guard var pointer = buffer.baseAddress else { return nil }
        var remaining = buffer.count
        while remaining > 0 {
            let n = write(fd, pointer, remaining)
            if n < 0 {
                if errno == EINTR { continue }
                return errnoText()
            }
            remaining -= n
            pointer += n
        }
        return nil
    }

    static func syncDirectory(_ directory: URL) {
        let dfd = open(directory.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dfd >= 0 else { return }
        _ = fsync(dfd)
        close(dfd)
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}
