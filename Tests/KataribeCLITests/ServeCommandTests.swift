import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import KataribeTestSupport
import Synchronization
import Testing

@Suite("kataribe serve", .timeLimit(.minutes(3)))
struct ServeCommandTests {
    @Test("serves the model on the port it prints, and stops cleanly on SIGINT")
    func servesAndStops() async throws {
        let process = Process()
        process.executableURL = KataribeBinary.url
        process.arguments = ["serve", "--model", "Tests/Fixtures/generation-e2e/calm", "--port", "0", "--served-model-name", "tiny"]
        process.currentDirectoryURL = TestPaths.packageRoot
        let stderr = Pipe()
        process.standardError = stderr
        process.standardOutput = Pipe()
        let output = Mutex("")
        stderr.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            output.withLock { $0 += String(decoding: data, as: UTF8.self) }
        }
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        var url: String?
        let deadline = Date().addingTimeInterval(60)
        while url == nil && Date() < deadline && process.isRunning {
            let text = output.withLock { $0 }
            if let range = text.range(of: #"http://127\.0\.0\.1:[0-9]+/v1"#, options: .regularExpression) {
                url = String(text[range])
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        let base = try #require(url, "no address printed: \(output.withLock { $0 })")
        let (data, response) = try await URLSession.shared.data(from: try #require(URL(string: base + "/models")))
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        let models = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect((models["data"] as? [[String: Any]])?.first?["id"] as? String == "tiny")

        kill(process.processIdentifier, SIGINT)
        await process.exited()
        #expect(process.terminationStatus == 0)
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
