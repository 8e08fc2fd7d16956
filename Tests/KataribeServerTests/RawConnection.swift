import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A loopback TCP connection driven byte by byte, for what an HTTP client library will not do:
/// odd request targets, half-sent heads, bodies that trickle, connections that say nothing.
///
/// The socket is non-blocking and every wait polls with `Task.sleep`, so a stalled server never
/// blocks a thread of the cooperative pool (suites run in parallel on two cores).
final class RawConnection: @unchecked Sendable {
    // @unchecked: the descriptor is fixed at init; `received` is only touched by the test task that
    // drives this connection, never concurrently.
    private let fd: Int32
    private(set) var received: [UInt8] = []
    private(set) var isClosedByPeer = false

    init(port: Int) throws {
        #if canImport(Glibc)
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        #if canImport(Darwin)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, socklen_t(MemoryLayout<Int32>.size))
        #endif
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        // Loopback connects complete in the kernel (into the listen backlog if the server is not
        // accepting), so this blocking call returns at once.
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            let error = POSIXError(.init(rawValue: errno) ?? .EIO)
            closeSocket(fd)
            throw error
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }

    deinit { closeSocket(fd) }

    /// Sends `text`; false when the server has closed the connection.
    @discardableResult
    func send(_ text: String) -> Bool {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            #if canImport(Glibc)
            let sent = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            #else
            let sent = bytes.withUnsafeBytes { Darwin.send(fd, $0.baseAddress, $0.count, 0) }
            #endif
            if sent < 0 {
                // Tests send a few bytes at a time, so a full send buffer means the server stopped
                // reading: report it rather than spin.
                if errno != EAGAIN && errno != EWOULDBLOCK { isClosedByPeer = true }
                return false
            }
            bytes = bytes.dropFirst(sent)
        }
        return true
    }

    /// Takes in whatever has arrived; notes when the server has closed (end of stream or reset).
    func poll() {
        var buffer = [UInt8](repeating: 0, count: 16384)
        while !isClosedByPeer {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if count > 0 {
                received += buffer[..<count]
            } else if count == 0 {
                isClosedByPeer = true
            } else {
                if errno != EAGAIN && errno != EWOULDBLOCK { isClosedByPeer = true }
                return
            }
        }
    }

    /// Waits (polling) until the server closes the connection; false if it is still open after `seconds`.
    func waitUntilClosed(seconds: Double) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            poll()
            if isClosedByPeer { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        poll()
        return isClosedByPeer
    }

    /// Waits (polling) until `condition` holds for what has been received; false after `seconds`.
    func waitForData(seconds: Double, until condition: (String) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            poll()
            if condition(text) { return true }
            if isClosedByPeer { return false }
            try? await Task.sleep(for: .milliseconds(20))
        }
        poll()
        return condition(text)
    }

    var text: String { String(decoding: received, as: UTF8.self) }

    /// The status code of the first response received, if its status line has arrived.
    var status: Int? {
        let line = text.prefix { $0 != "\r" }
        let parts = line.split(separator: " ")
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/") else { return nil }
        return Int(parts[1])
    }

    /// Sends one request and reads until the server closes (it is asked to); the status, or nil when
    /// no complete answer came within `seconds`.
    static func exchange(port: Int, _ request: String, seconds: Double = 20) async throws -> (status: Int?, text: String) {
        let connection = try RawConnection(port: port)
        connection.send(request)
        _ = await connection.waitUntilClosed(seconds: seconds)
        return (connection.status, connection.text)
    }
}

private func closeSocket(_ fd: Int32) {
    #if canImport(Glibc)
    _ = Glibc.close(fd)
    #else
    _ = Darwin.close(fd)
    #endif
}

/// An HTTP/1.1 request as raw text, asking the server to close after answering.
func rawRequest(_ method: String, _ target: String, headers: [(String, String)] = [], body: String? = nil) -> String {
    var lines = ["\(method) \(target) HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    for (name, value) in headers { lines.append("\(name): \(value)") }
    if let body {
        lines.append("Content-Type: application/json")
        lines.append("Content-Length: \(body.utf8.count)")
    }
    return lines.joined(separator: "\r\n") + "\r\n\r\n" + (body ?? "")
}
