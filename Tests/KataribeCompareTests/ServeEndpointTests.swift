import Foundation
import KataribeApp
import KataribeCompare
import KataribeGeneration
import KataribeServer
import KataribeTestSupport
import Testing

/// Scale-out: a suite whose models are `kataribe serve` endpoints gives the same samples as running
/// the same models in process.
@Suite("Endpoints served by kataribe serve", .timeLimit(.minutes(3)))
struct ServeEndpointTests {
    /// Runs `body` with a real server for `model` on a free loopback port.
    func withServer<T: Sendable>(_ model: LoadedModel, _ body: (Int) async throws -> T) async throws -> T {
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.logLevel = .critical
        let server = OpenAIServer(model: model, configuration: configuration)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run { continuation.yield($0) } }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw CancellationError() }
            let result: Result<T, any Error>
            do { result = .success(try await body(port)) } catch { result = .failure(error) }
            // Graceful, not cancellation: cancelling while NIO accepts a connection can abort the
            // process (apple/swift-nio#2813); shutdown is bounded by the server's own timeout.
            await server.shutdownGracefully()
            try await group.waitForAll()
            return try result.get()
        }
    }

    func samples(_ store: ResultsStore) -> [String: SampleRecord] {
        var byKey: [String: SampleRecord] = [:]
        for case .sample(let s) in store.entries { byKey["\(s.promptID)#\(s.sampleIndex)"] = s }
        return byKey
    }

    @Test("plain and chat models: every endpoint sample equals the in-process sample with the same seed",
          arguments: [("calm", "open-calm-small"), ("rinna", "rinna-3.6b-sft-v2")])
    func endpointEqualsInProcess(folderName: String, presetID: String) async throws {
        let folder = TestPaths.fixture("generation-e2e/\(folderName)").path
        let preset = try ModelPresetCatalog.preset(named: presetID)
        let model = try LoadedModel(folder: URL(fileURLWithPath: folder), preset: preset,
                                    options: ModelLoadOptions(threads: 1))
        let prompts = """
        prompts:
          - {id: story, completion: 昔々あるところに、, instruction: 物語を考えてください。}
          - {id: reply, completion: 返信:「, instruction: 返信を考えてください。}
        """
        // Both entries share a label, so their sample seeds are the same.
        let local = "name: s\nsamples: 2\nseed: 3\ngeneration: {max_new_tokens: 10}\nmodels:\n"
            + "  - {label: m, model: \(folder), preset: \(presetID)}\n" + prompts

        let localDir = try TemporaryDirectory()
        let remoteDir = try TemporaryDirectory()
        defer { localDir.cleanup(); remoteDir.cleanup() }
        let localStore = try ResultsStore(directory: localDir.url)
        _ = try await CompareRunner(plan: ComparePlan(suite: SuiteLoader.parse(yaml: local)),
                                    backend: LocalBackend(threads: 1), store: localStore, kataribeVersion: "t").run()

        let remoteStore = try ResultsStore(directory: remoteDir.url)
        let result = try await withServer(model) { port in
            let remote = "name: s\nsamples: 2\nseed: 3\ngeneration: {max_new_tokens: 10}\nmodels:\n"
                + "  - {label: m, preset: \(presetID), endpoint: {base_url: \"http://127.0.0.1:\(port)\", model: \(presetID)}}\n" + prompts
            return try await CompareRunner(plan: ComparePlan(suite: SuiteLoader.parse(yaml: remote)),
                                           backend: RoutingBackend(local: UnavailableBackend(reason: "-")),
                                           store: remoteStore, kataribeVersion: "t").run()
        }
        #expect(result.failures.isEmpty, "\(result.failures)")

        let expected = samples(localStore)
        let served = samples(remoteStore)
        #expect(expected.count == 4 && served.count == 4)
        for (key, sample) in expected {
            let remote = try #require(served[key], "\(key)")
            #expect(remote.seed == sample.seed)
            #expect(remote.display == sample.display, "\(key)")
            #expect(remote.outputTokens == sample.outputTokens, "\(key)")
            #expect(remote.backend == "endpoint" && sample.backend == "local")
        }
    }
}
