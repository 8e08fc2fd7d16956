import Foundation
import KataribeTensor
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped read-only into memory. Tensors point straight into the mapping, so a
/// multi-gigabyte checkpoint costs no copy and pages in on first use.
public final class MappedFile: @unchecked Sendable {
    public let url: URL
    public let size: Int
    private let mapping: UnsafeMutableRawPointer?

    public init(url: URL) throws(CheckpointError) {
        self.url = url
        let fd = open(url.path, O_RDONLY)
        guard fd >= 0 else {
            throw CheckpointError(file: url.path, .cannotOpen(String(cString: strerror(errno))))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw CheckpointError(file: url.path, .cannotOpen(String(cString: strerror(errno))))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw CheckpointError(file: url.path, .cannotOpen("not a regular file"))
        }
        size = Int(info.st_size)
        if size == 0 {
            mapping = nil  // mmap rejects empty files; an empty file simply has no bytes
            return
        }
        let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let address, address != MAP_FAILED else {
            throw CheckpointError(file: url.path, .cannotOpen("mmap failed: \(String(cString: strerror(errno)))"))
        }
        mapping = address
    }

    deinit {
        if let mapping { munmap(mapping, size) }
    }

    /// The file's bytes (empty for an empty file).
    public var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: mapping.map { UnsafeRawPointer($0) }, count: size)
    }

    /// A storage over the whole file; tensors keep the mapping alive through it.
    public lazy var storage: ByteStorage = {
        if let mapping { return ByteStorage(borrowing: UnsafeRawPointer(mapping), count: size, owner: self, isFileMapping: true) }
        return ByteStorage(copying: UnsafeRawBufferPointer(start: nil, count: 0))
    }()

    public var path: String { url.path }
}
