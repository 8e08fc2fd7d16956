import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// File system calls that report failures as `HubError.fileSystem`, naming the path and the reason.
enum FileSystem {
    static func createDirectory(_ url: URL) throws(HubError) {
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw HubError.fileSystem(path: url.path, operation: "create the folder", reason: reason(error))
        }
    }

    static func write(_ data: Data, to url: URL) throws(HubError) {
        do {
            try data.write(to: url)
        } catch {
            throw HubError.fileSystem(path: url.path, operation: "write", reason: reason(error))
        }
    }

    /// rename(2): atomic within one file system, which is why partial files live next to their destination.
    static func rename(_ source: URL, to destination: URL) throws(HubError) {
        guard Foundation.rename(source.path, destination.path) == 0 else {
            throw HubError.fileSystem(path: destination.path, operation: "move \(source.lastPathComponent) into place", reason: errnoText())
        }
    }

    static func symlink(_ url: URL, pointingTo target: String) throws(HubError) {
        guard Foundation.symlink(target, url.path) == 0 else {
            throw HubError.fileSystem(path: url.path, operation: "create a symbolic link", reason: errnoText())
        }
    }

    static func remove(_ url: URL) {
        _ = unlink(url.path)
    }

    static func fileSize(_ url: URL) -> Int64? {
        var info = stat()
        guard stat(url.path, &info) == 0 else { return nil }
        return Int64(info.st_size)
    }

    /// Bytes available to this user on the file system holding `url`, nil when it cannot tell.
    static func availableSpace(_ url: URL) -> Int64? {
        var info = statvfs()
        guard statvfs(url.path, &info) == 0 else { return nil }
        return Int64(info.f_bavail) * Int64(info.f_frsize)
    }

    static func uniqueSuffix() -> String {
        String(UInt32.random(in: 0...UInt32.max), radix: 16)
    }

    static func errnoText(_ code: Int32 = errno) -> String {
        String(cString: strerror(code))
    }

    static func reason(_ error: any Error) -> String {
        if let posix = (error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError, posix.domain == NSPOSIXErrorDomain {
            return errnoText(Int32(posix.code))
        }
        return (error as NSError).localizedDescription
    }
}
