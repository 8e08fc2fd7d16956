import Foundation
import KataribeCompare
import KataribeGeneration
import Testing

@Suite("Endpoint backend (OpenAI-compatible /v1/completions)", .timeLimit(.minutes(2)))
struct EndpointBackendTests {
    func endpointPlan(_ baseURL: String, extra: String = "", apiKeyEnv: String? = nil) throws -> ComparePlan {
        let key = apiKeyEnv.map { ", api_key_env: \($0)" } ?? ""
        return try smallPlan("""
        samples: 2
        seed: 5
        models:
          - label: remote-calm
            endpoint: {base_url: "\(baseURL)", model: cyberagent/open-calm-7b\(key)}
            \(extra)
          - label: remote-sft
            endpoint: {base_url: "\(baseURL)/v1/", model: rinna/japanese-gpt-neox-3.6b-instruction-sft-v2}
            generation: {do_sample: false, stop_strings: ["<NL>"]}
        prompts:
          - {id: story, completion: 昔々, instruction: 物語を}
        """)
    }

    @Test("each sample is one POST to /v1/completions with the formatted prompt, settings, seed and bearer key")
    func requestShape() async throws {
        let server = try await FakeCompletionServer.start()
        defer { Task { await server.stop() } }
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let plan = try endpointPlan(server.baseURL, extra: "generation: {top_k: 0, min_new_tokens: 3}", apiKeyEnv: "KATARIBE_TEST_KEY")
        let backend = EndpointBackend(environment: ["KATARIBE_TEST_KEY": "sk-test"])
        let store = try ResultsStore(directory: dir.url)
        let result = try await CompareRunner(plan: plan, backend: RoutingBackend(local: UnavailableBackend(reason: "-"), endpoint: backend),
                                             store: store, kataribeVersion: "t").run()
        #expect(result.failures.isEmpty && result.finishedNow == 4)

        let requests = server.requests
        #expect(requests.count == 4)
        #expect(requests.allSatisfy { $0.method == "POST" && $0.uri == "/v1/completions" })
        #expect(requests.allSatisfy { $0.headers["content-type"] == "application/json" })
        #expect(requests[0].headers["authorization"] == "Bearer sk-test")
        #expect(requests[2].headers["authorization"] == nil)

        let calm = requests[0].json
        let cell = try #require(plan.cell(model: "remote-calm", prompt: "story"))
        #expect(calm["model"] as? String == "cyberagent/open-calm-7b")
        #expect(calm["prompt"] as? String == "昔々")
        #expect(calm["max_tokens"] as? Int == 64)
        #expect(calm["temperature"] as? Double == 0.7)
        #expect(calm["top_p"] as? Double == 0.9)
        #expect(calm["top_k"] as? Int == -1)
        #expect(calm["repetition_penalty"] as? Double == 1.05)
        #expect(calm["min_tokens"] as? Int == 3)
        #expect(calm["n"] as? Int == 1)
        #expect((calm["seed"] as? NSNumber)?.uint64Value == cell.seed(sample: 0))
        #expect((requests[1].json["seed"] as? NSNumber)?.uint64Value == cell.seed(sample: 1))
        #expect(calm["stop"] == nil && calm["stream"] as? Bool == false)
        #expect(calm["skip_special_tokens"] as? Bool == true)

        let sft = requests[2].json
        #expect(sft["prompt"] as? String == "ユーザー: 物語を<NL>システム: ")
        #expect(sft["temperature"] as? Double == 0)
        #expect(sft["top_p"] == nil && sft["top_k"] == nil)
        #expect(sft["max_tokens"] as? Int == 128)
        #expect(sft["stop"] as? [String] == ["<NL>"])
        #expect(sft["include_stop_str_in_output"] as? Bool == true)
        #expect(sft["skip_special_tokens"] as? Bool == false)

        let samples = store.entries.compactMap { if case .sample(let s) = $0 { s } else { nil } }
        #expect(samples[0].output == "返答(\(cell.seed(sample: 0))): 昔々")
        #expect(samples[0].display == "昔々返答(\(cell.seed(sample: 0))): 昔々")
        #expect(samples[0].outputTokens == 5 && samples[0].promptTokens == 7)
        #expect(samples[0].backend == "endpoint" && samples[0].stopReason == "length")
    }

    @Test("finish reasons map to Kataribe's stop reasons")
    func stopReasons() async throws {
        let server = try await FakeCompletionServer.start()
        defer { Task { await server.stop() } }
        let plan = try endpointPlan(server.baseURL)
        let model = try #require(plan.model("remote-calm"))
        let session = try await EndpointBackend().load(model)
        defer { Task { await session.close() } }
        let request = SampleRequest(modelLabel: "remote-calm", promptID: "story", sampleIndex: 0, prompt: "x",
                                    parameters: model.preset.generation, preset: model.preset)
        server.setBehavior(.complete(finishReason: "stop", stopReason: "。"))
        #expect(try await session.generate(request) { _ in }.stopReason == "stop_string")
        server.setBehavior(.complete(finishReason: "stop"))
        #expect(try await session.generate(request) { _ in }.stopReason == "eos")
    }

    @Test("HTTP errors, bad JSON and refused connections fail the sample, and the run goes on")
    func failures() async throws {
        let server = try await FakeCompletionServer.start()
        defer { Task { await server.stop() } }
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let closed = try await FakeCompletionServer.closedPort()
        let plan = try smallPlan("""
        samples: 1
        models:
          - label: dead
            endpoint: {base_url: "http://127.0.0.1:\(closed)", model: cyberagent/open-calm-7b}
          - label: live
            endpoint: {base_url: "\(server.baseURL)", model: cyberagent/open-calm-7b}
          - label: local
            model: demo-calm
        prompts:
          - {id: a, completion: x}
          - {id: b, completion: y}
        """)
        let backend = RoutingBackend(local: FakeCompareBackend(), endpoint: EndpointBackend(connectTimeout: .seconds(1)))
        let store = try ResultsStore(directory: dir.url)

        server.setBehavior(.status(500, body: "{\"error\": \"model crashed\"}"))
        let first = try await CompareRunner(plan: plan, backend: backend, store: store,
                                            selection: CompareSelection(prompts: ["a"]), kataribeVersion: "t").run()
        #expect(first.failures.map(\.modelLabel) == ["dead", "live"])
        #expect(first.failures[0].message.contains("request failed"))
        #expect(first.failures[1].message.contains("HTTP 500") && first.failures[1].message.contains("model crashed"))
        #expect(first.finishedNow == 1)  // the local model still ran

        server.setBehavior(.body("<html>gateway</html>"))
        let second = try await CompareRunner(plan: plan, backend: backend, store: store,
                                             selection: CompareSelection(models: ["live"], prompts: ["b"]), kataribeVersion: "t").run()
        #expect(second.failures.count == 1)
        #expect(second.failures[0].message.contains("not a completion response"))

        server.setBehavior(.body("{\"choices\": []}"))
        let third = try await CompareRunner(plan: plan, backend: backend, store: store,
                                            selection: CompareSelection(models: ["live"], prompts: ["b"]), kataribeVersion: "t").run()
        #expect(third.failures.first?.message.contains("no choices") == true)

        server.setBehavior(.complete())
        let fixed = try await CompareRunner(plan: plan, backend: backend, store: store,
                                            selection: CompareSelection(models: ["live", "local"]), kataribeVersion: "t").run()
        #expect(fixed.failures.isEmpty && fixed.finishedNow == 3)
    }

    @Test("after three unreachable requests in a row the model's other samples fail at once")
    func unreachableServer() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let closed = try await FakeCompletionServer.closedPort()
        let plan = try smallPlan("""
        samples: 5
        models:
          - endpoint: {base_url: "http://127.0.0.1:\(closed)", model: cyberagent/open-calm-7b}
        prompts:
          - {id: a, completion: x}
        """)
        let backend = EndpointBackend(connectTimeout: .milliseconds(300))
        let result = try await CompareRunner(plan: plan, backend: backend, store: ResultsStore(directory: dir.url),
                                             kataribeVersion: "t").run()
        #expect(result.failures.count == 5)
        #expect(result.failures.prefix(3).allSatisfy { !$0.message.contains("not tried") })
        #expect(result.failures.suffix(2).allSatisfy { $0.message.contains("not tried after 3 requests in a row failed") })
    }

    @Test("an endpoint with concurrency K has K requests waiting at the server at once, never more",
          arguments: [1, 3, 10])
    func concurrentRequests(concurrency: Int) async throws {
        let server = try await FakeCompletionServer.start()
        defer { Task { await server.stop() } }
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        // 10 is above the HTTP client's default of 8 connections per host.
        let plan = try smallPlan("""
        samples: \(concurrency)
        models:
          - endpoint: {base_url: "\(server.baseURL)", model: cyberagent/open-calm-7b, concurrency: \(concurrency)}
        prompts:
          - {id: a, completion: x}
          - {id: b, completion: y}
        """)
        let session = try await EndpointBackend().load(try #require(plan.models.first), samplesPerCell: plan.samples)
        #expect(session.maxConcurrentSamples == concurrency)
        await session.close()

        server.holdReplies(untilWaiting: concurrency, timeout: .seconds(60))
        let store = try ResultsStore(directory: dir.url)
        let result = try await CompareRunner(plan: plan, backend: EndpointBackend(), store: store, kataribeVersion: "t").run()
        #expect(result.failures.isEmpty && result.finishedNow == 2 * concurrency)
        #expect(server.peakWaiting == concurrency)
        #expect(server.requests.count == 2 * concurrency)
        let outputs = store.entries.compactMap { if case .sample(let s) = $0 { s.output } else { nil } }
        #expect(outputs.allSatisfy { $0.hasPrefix("返答(") } && Set(outputs).count == 2 * concurrency)
    }

    @Test("a missing API key variable fails the model's load with the variable's name")
    func missingKey() async throws {
        let plan = try endpointPlan("http://127.0.0.1:9", apiKeyEnv: "KATARIBE_TEST_ABSENT")
        let model = try #require(plan.model("remote-calm"))
        await #expect(throws: EndpointError.missingAPIKey(variable: "KATARIBE_TEST_ABSENT")) {
            _ = try await EndpointBackend(environment: [:]).load(model)
        }
    }
}
