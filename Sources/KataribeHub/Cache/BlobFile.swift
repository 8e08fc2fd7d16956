import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The `<etag>.incomplete` file a transfer appends to. Kept across runs so an interrupted download
/// resumes where it stopped; only renamed to `<etag>` once its size and hash are verified.
final class BlobFile {
    let url: URL
    private let descriptor: Int32
    private(set) var size: Int64

    init(openingOrCreating url: URL) throws(HubError) {
        self.url = url
        // 0o666 under the process umask: the mode huggingface_hub gives blobs.
        let fd = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o666)
        guard fd >= 0 else {
            throw HubError.fileSystem(path: url.path, operation: "open for writing", reason: FileSystem.errnoText())
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let reason = FileSystem.errnoText()
            close(fd)
            throw HubError.fileSystem(path: url.path, operation: "stat", reason: reason)
        }
        descriptor = fd
        size = Int64(info.st_size)
    }

    deinit { close(descriptor) }

    func append(_ bytes: UnsafeRawBufferPointer) throws(HubError) {
        var written = 0
        while written < bytes.count {
            let result = pwrite(descriptor, bytes.baseAddress! + written, bytes.count - written, off_t(size) + off_t(written))
            if result < 0 {
                if errno == EINTR { continue }
                throw HubError.fileSystem(path: url.path, operation: "write", reason: FileSystem.errnoText())
            }
            written += result
        }
        size += Int64(bytes.count)
    }

    func truncate() throws(HubError) {
        guard ftruncate(descriptor, 0) == 0 else {
            throw HubError.fileSystem(path: url.path, operation: "truncate", reason: FileSystem.errnoText())
        }
        size = 0
    }

    /// Feeds the bytes already on disk to `body` in large chunks (re-hashing a resumed prefix).
    func readAll(_ body: (UnsafeRawBufferPointer) -> Void) throws(HubError) {
        let chunk = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buffer.deallocate() }
        var offset: Int64 = 0
        while offset < size {
            let count = pread(descriptor, buffer.baseAddress!, min(chunk, Int(size - offset)), off_t(offset))
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                throw HubError.fileSystem(path: url.path, operation: "read", reason: count < 0 ? FileSystem.errnoText() : "unexpected end of file")
            }
            body(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            offset += Int64(count)
        }
    }

    /// Flushes to stable storage before the rename, so a crash cannot leave a complete-looking but empty blob.
    func sync() throws(HubError) {
        guard fsync(descriptor) == 0 else {
            throw HubError.fileSystem(path: url.path, operation: "flush to disk", reason: FileSystem.errnoText())
        }
    }
}
