import Foundation
import KataribeSupport
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
        // Refuses FIFOs, devices and directories before reading: a FIFO would block open(2) forever.
        let opened: (descriptor: Int32, size: Int)
        do { opened = try UntrustedFile.openRegular(url.path) } catch {
            throw CheckpointError(file: url.path, .cannotOpen(error.reason))
        }
        let fd = opened.descriptor
        size = opened.size
        defer { close(fd) }
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

    /// A storage over the whole file, shared by every tensor read from it; tensors keep the mapping
    /// alive through it. The storage holds this file, so the file holds the storage only weakly: a
    /// strong reference made a cycle that kept every mapping of the process, e.g. each model
    /// `kataribe compare` had loaded.
    public var storage: ByteStorage {
        storageLock.withLock {
            if let sharedStorage { return sharedStorage }
            let made = mapping.map { ByteStorage(borrowing: UnsafeRawPointer($0), count: size, owner: self, isFileMapping: true) }
                ?? ByteStorage(copying: UnsafeRawBufferPointer(start: nil, count: 0))
            sharedStorage = made
            return made
        }
    }

    private let storageLock = NSLock()
    private weak var sharedStorage: ByteStorage?

    public var path: String { url.path }
}
