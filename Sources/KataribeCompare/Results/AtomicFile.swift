#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Writes whole files so that readers see the old content or the new one, never a mix: the bytes go
/// to a temporary file in the same folder, are synced, and the temporary file is renamed over the
/// target (then the folder is synced so the rename itself survives a crash).
public enum AtomicFile {
    public static func write(_ data: Data, to url: URL) throws(ResultsStoreError) {
        let directory = url.deletingLastPathComponent()
        let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
        let fd = open(temporary.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .cannotOpen(path: temporary.path, reason: ResultsStore.errnoText()) }
        var failure = data.withUnsafeBytes { ResultsStore.writeAll(fd, $0) }
        if failure == nil, fsync(fd) != 0 { failure = "fsync: \(ResultsStore.errnoText())" }
        close(fd)
        if failure == nil, rename(temporary.path, url.path) != 0 { failure = "rename: \(ResultsStore.errnoText())" }
        if let failure {
            unlink(temporary.path)
            throw .writeFailed(path: url.path, reason: failure)
        }
        ResultsStore.syncDirectory(directory)
    }

    public static func write(_ text: String, to url: URL) throws(ResultsStoreError) {
        try write(Data(text.utf8), to: url)
    }
}
