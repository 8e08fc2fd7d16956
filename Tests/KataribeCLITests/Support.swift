import Foundation
import KataribeTestSupport
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Runs the built `kataribe` binary (this test target depends on the executable, so it is built).
enum KataribeBinary {
    static var url: URL {
        let besideTests = Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("kataribe")
        if FileManager.default.isExecutableFile(atPath: besideTests.path) { return besideTests }
        if let executable = Bundle.main.executableURL?.deletingLastPathComponent().appendingPathComponent("kataribe"),
           FileManager.default.isExecutableFile(atPath: executable.path) { return executable }
        return TestPaths.packageRoot.appendingPathComponent(".build/debug/kataribe")
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `kataribe arguments` with `input` on stdin (a pipe, not a terminal).
    static func run(_ arguments: [String], input: String = "") async throws -> Result {
        try await runWithEnvironment(arguments, input: input, environment: [:])
    }

    /// `run` with extra environment variables.
    static func runWithEnvironment(_ arguments: [String], input: String = "", environment: [String: String]) async throws -> Result {
        let process = Process()
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.executableURL = url
        process.arguments = arguments
        process.currentDirectoryURL = TestPaths.packageRoot
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        // Both pipes are read to the end on their own threads, so a chatty child never blocks on a full
        // pipe; the test only polls, because blocking here would hold one of the few cooperative
        // threads every other test in this process needs.
        let out = PipeDrain(stdout), err = PipeDrain(stderr)
        while process.isRunning || !out.isDone || !err.isDone {
            try await Task.sleep(for: .milliseconds(10))
        }
        return Result(status: process.terminationStatus, stdout: String(decoding: out.data, as: UTF8.self),
                      stderr: String(decoding: err.data, as: UTF8.self))
    }
}

/// Reads a pipe to its end on a thread of its own.
final class PipeDrain: Sendable {
    private let state = Mutex<(data: Data, done: Bool)>((Data(), false))

    init(_ pipe: Pipe) {
        let handle = pipe.fileHandleForReading
        Thread { [self] in
            let data = handle.readDataToEndOfFile()
            state.withLock { $0 = (data, true) }
        }.start()
    }

    var isDone: Bool { state.withLock { $0.done } }
    var data: Data { state.withLock { $0.data } }
}

/// `kataribe` attached to a pseudo-terminal, as a person at a terminal would run it: the child's
/// stdin, stdout and stderr are the terminal; the test types into it and reads what appears.
final class PseudoTerminalSession: @unchecked Sendable {  // `output` is guarded by `lock`
    let process = Process()
    private let master: Int32
    private let lock = NSLock()
    private var output = Data()
    private var reader: Thread?

    /// `environment` is added to (and overrides) the test's own.
    init(_ arguments: [String], environment: [String: String] = [:]) throws {
        var master: Int32 = -1, slave: Int32 = -1
        guard openpty(&master, &slave, nil, nil, nil) == 0 else { throw POSIXError(.ENOTTY) }
        self.master = master
        let terminal = FileHandle(fileDescriptor: slave, closeOnDealloc: true)
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.executableURL = KataribeBinary.url
        process.arguments = arguments
        process.currentDirectoryURL = TestPaths.packageRoot
        process.standardInput = terminal
        process.standardOutput = terminal
        process.standardError = terminal
        try process.run()
        try terminal.close()  // the child holds its own copies
        let fd = master
        let reader = Thread { [self] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = read(fd, &buffer, buffer.count)
                if count <= 0 { break }  // EIO once the child has exited and closed the terminal
                lock.withLock { output.append(contentsOf: buffer[..<count]) }
            }
        }
        reader.start()
        self.reader = reader
    }

    deinit {
        if process.isRunning { process.terminate() }
        close(master)
    }

    /// Everything the terminal showed so far (the terminal's "\r\n" read as "\n").
    var screen: String {
        lock.withLock { String(decoding: output, as: UTF8.self) }.replacingOccurrences(of: "\r\n", with: "\n")
    }

    /// Types `text` (a trailing "\n" is the Enter key).
    func type(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBufferPointer { write(master, $0.baseAddress, $0.count) }
    }

    /// Ctrl-D at the start of a line: end of input.
    func endOfInput() { type("\u{04}") }

    /// Waits until `condition` holds for the screen; false on timeout.
    func waitFor(seconds: Double = 60, _ condition: (String) -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition(screen) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition(screen)
    }

    /// Waits for the child to exit; its status, or nil on timeout.
    func exitStatus(seconds: Double = 60) async -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        return process.isRunning ? nil : process.terminationStatus
    }
}

extension String {
    func occurrences(of needle: String) -> Int { components(separatedBy: needle).count - 1 }
}
