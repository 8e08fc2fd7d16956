import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import KataribeTestSupport
import Synchronization
import Testing

/// `kataribe serve` on a free port, with what it wrote to stderr so far.
private final class RunningServer {
    let process = Process()
    let base: String
    private let output = CapturedText()

    var stderr: String { output.text }

    init(_ extra: [String] = []) async throws {
        process.executableURL = KataribeBinary.url
        process.arguments = ["serve", "--model", "Tests/Fixtures/generation-e2e/calm", "--port", "0", "--served-model-name", "tiny"] + extra
        process.currentDirectoryURL = TestPaths.packageRoot
        let stderr = Pipe()
        process.standardError = stderr
        process.standardOutput = Pipe()
        let output = self.output
        stderr.fileHandleForReading.readabilityHandler = { handle in output.append(handle.availableData) }
        try process.run()
        var url: String?
        let deadline = Date().addingTimeInterval(60)
        while url == nil && Date() < deadline && process.isRunning {
            let text = output.text
            if let range = text.range(of: #"http://127\.0\.0\.1:[0-9]+/v1"#, options: .regularExpression) {
                url = String(text[range])
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        guard let url else {
            if process.isRunning { process.terminate() }
            throw ServeTestError.noAddress(output.text)
        }
        base = url
    }

    deinit { if process.isRunning { process.terminate() } }

    /// Waits until stderr holds `text`; false on timeout.
    func waitForLog(_ text: String) async -> Bool {
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if stderr.contains(text) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return stderr.contains(text)
    }

    func stop() async -> Int32 {
        kill(process.processIdentifier, SIGINT)
        await process.exited()
        return process.terminationStatus
    }
}

private enum ServeTestError: Error { case noAddress(String) }

/// Text a pipe's handler appends on its own thread while the test reads it.
private final class CapturedText: Sendable {
    private let storage = Mutex("")
    var text: String { storage.withLock { $0 } }
    func append(_ data: Data) { storage.withLock { $0 += String(decoding: data, as: UTF8.self) } }
}

@Suite("kataribe serve", .timeLimit(.minutes(3)))
struct ServeCommandTests {
    @Test("serves the model on the port it prints, and stops cleanly on SIGINT")
    func servesAndStops() async throws {
        let server = try await RunningServer()
        let (data, response) = try await URLSession.shared.data(from: try #require(URL(string: server.base + "/models")))
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        let models = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect((models["data"] as? [[String: Any]])?.first?["id"] as? String == "tiny")
        #expect(await server.stop() == 0)
    }

    @Test("logs one line per request on stderr: method, path, status, duration, and the tokens it generated")
    func logsRequests() async throws {
        let server = try await RunningServer()
        _ = try await URLSession.shared.data(from: try #require(URL(string: server.base + "/models")))
        #expect(await server.waitForLog("GET /v1/models 200 "), "\(server.stderr)")

        var request = URLRequest(url: try #require(URL(string: server.base + "/completions")))
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = try JSONSerialization.data(withJSONObject: ["prompt": "今日は", "max_tokens": 3, "min_tokens": 3, "temperature": 0])
        let (_, response) = try await URLSession.shared.data(for: request)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        #expect(await server.waitForLog(" completion tokens"), "\(server.stderr)")
        let line = try #require(server.stderr.split(separator: "\n").first { $0.contains("POST /v1/completions 200 ") })
        #expect(line.contains(" prompt + 3 completion tokens"), "\(line)")

        _ = try await URLSession.shared.data(from: try #require(URL(string: server.base + "/nowhere")))
        #expect(await server.waitForLog("GET /v1/nowhere 404 "), "\(server.stderr)")
        #expect(await server.stop() == 0)
    }

    @Test("--quiet logs no requests")
    func quiet() async throws {
        let server = try await RunningServer(["--quiet"])
        let (_, response) = try await URLSession.shared.data(from: try #require(URL(string: server.base + "/models")))
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        #expect(await server.stop() == 0)
        #expect(!server.stderr.contains("/v1/models"), "\(server.stderr)")
    }

    @Test("--api-key-env naming an unset variable is an error that names it")
    func missingKeyVariable() async throws {
        let result = try await KataribeBinary.runWithEnvironment(
            ["serve", "--model", "Tests/Fixtures/generation-e2e/calm", "--api-key-env", "KATARIBE_TEST_UNSET_KEY"],
            environment: [:])
        #expect(result.status == 1)
        #expect(result.stderr.contains("KATARIBE_TEST_UNSET_KEY"))
    }
}
