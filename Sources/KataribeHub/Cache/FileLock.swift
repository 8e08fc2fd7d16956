import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive flock(2) on `.locks/models--ORG--NAME/<etag>.lock`, the same file and the same kind of lock
/// as huggingface_hub's `WeakFileLock`, so two downloaders of one blob (two kataribe runs, or kataribe and
/// Python) never append to the same partial file. Waiting polls instead of blocking a thread.
final class FileLock {
    private let descriptor: Int32

    private init(descriptor: Int32) { self.descriptor = descriptor }

    static func acquire(_ url: URL, pollInterval: Duration = .milliseconds(100)) async throws -> FileLock {
        try FileSystem.createDirectory(url.deletingLastPathComponent())
        let fd = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o664)
        guard fd >= 0 else {
            throw HubError.fileSystem(path: url.path, operation: "open the lock file", reason: FileSystem.errnoText())
        }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                // File systems without flock: huggingface_hub falls back to a soft lock; going on unlocked is
                // the same guarantee for a single user.
                break
            }
            do {
                try await Task.sleep(for: pollInterval)
            } catch {
                close(fd)
                throw error
            }
        }
        return FileLock(descriptor: fd)
    }

    deinit {
        _ = flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}
