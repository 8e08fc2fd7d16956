import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a file given by the user could not be read as a whole.
public enum UntrustedFileError: Error, Equatable, Sendable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case notARegularFile(path: String, kind: String)
    case tooLarge(path: String, size: Int, limit: Int)
    case readFailed(path: String, reason: String)

    public var path: String {
        switch self {
        case .cannotOpen(let path, _), .notARegularFile(let path, _), .tooLarge(let path, _, _), .readFailed(let path, _): path
        }
    }

    /// The reason alone, for errors that name the file themselves.
    public var reason: String {
        switch self {
        case .cannotOpen(_, let reason): reason
        case .notARegularFile(_, let kind): "not a regular file (\(kind))"
        case .tooLarge(_, let size, let limit): "\(size) bytes is more than the \(limit) bytes such a file may have"
        case .readFailed(_, let reason): "read failed: \(reason)"
        }
    }

    public var description: String { "\(path): \(reason)" }
}

/// Reading files that come from users and downloads, where a path may name a FIFO, a device or a
/// directory. `Data(contentsOf:)` and a plain `open(2)` block forever on a FIFO with no writer, so
/// files are opened non-blocking and checked with `fstat` before a single byte is read.
public enum UntrustedFile {
    /// Opens `path` for reading and returns the descriptor and size of what is a regular file;
    /// anything else is refused before it is read. The caller closes the descriptor.
    public static func openRegular(_ path: String) throws(UntrustedFileError) -> (descriptor: Int32, size: Int) {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw .cannotOpen(path: path, reason: systemError(errno)) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let reason = systemError(errno)
            close(fd)
            throw .cannotOpen(path: path, reason: reason)
        }
        let type = info.st_mode & S_IFMT
        guard type == S_IFREG else {
            close(fd)
            throw .notARegularFile(path: path, kind: kindName(type))
        }
        // Regular files ignore O_NONBLOCK for reads, but clearing it keeps later reads ordinary.
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        return (fd, Int(info.st_size))
    }

    /// The whole file, refused when it is not a regular file or is larger than `limit` bytes
    /// (checked before anything is allocated).
    public static func read(_ url: URL, limit: Int = 1 << 30) throws(UntrustedFileError) -> [UInt8] {
        let path = url.path
        let (fd, size) = try openRegular(path)
        defer { close(fd) }
        guard size <= limit else { throw .tooLarge(path: path, size: size, limit: limit) }
        var bytes = [UInt8](repeating: 0, count: size)
        var filled = 0
        while filled < size {
            let count = bytes.withUnsafeMutableBytes { buffer in
                systemRead(fd, buffer.baseAddress! + filled, size - filled)
            }
            if count < 0 {
                if errno == EINTR { continue }
                throw .readFailed(path: path, reason: systemError(errno))
            }
            if count == 0 { break }  // the file shrank while being read: keep what was there
            filled += count
        }
        if filled < size { bytes.removeSubrange(filled...) }
        return bytes
    }

    /// `read` as `Data`, for the JSON and property-list readers that take it.
    public static func data(_ url: URL, limit: Int = 1 << 30) throws(UntrustedFileError) -> Data {
        Data(try read(url, limit: limit))
    }

    private static func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
        #if canImport(Glibc)
        Glibc.read(fd, buffer, count)
        #else
        Darwin.read(fd, buffer, count)
        #endif
    }

    /// `strerror` in the lower case the rest of a message uses ("no such file or directory").
    static func systemError(_ code: Int32) -> String {
        let text = String(cString: strerror(code))
        return text.prefix(1).lowercased() + text.dropFirst()
    }

    static func kindName(_ type: mode_t) -> String {
        switch type {
        case S_IFDIR: "a directory"
        case S_IFIFO: "a FIFO"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFSOCK: "a socket"
        default: "not a plain file"
        }
    }
}
