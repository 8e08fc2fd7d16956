import Foundation
import KataribeCompare
import KataribeGeneration
import Testing

@Suite("Runner")
struct RunnerTests {
    @Test("each model is loaded once, runs all its cells, and is closed before the next one loads")
    func oneModelAtATime() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let plan = try smallPlan()
        let backend = RecordingBackend()
        let result = try await CompareRunner(plan: plan, backend: backend, store: ResultsStore(directory: dir.url),
                                             kataribeVersion: "test").run()
        #expect(result.finishedNow == 8 && result.failures.isEmpty && !result.cancelled)
        #expect(backend.events == [
            "load calm", "generate calm story 0", "generate calm story 1", "generate calm recipe 0", "generate calm recipe 1", "close calm",
            "load sft", "generate sft story 0", "generate sft story 1", "generate sft recipe 0", "generate sft recipe 1", "close sft",
        ])
    }

    @Test("samples record the seed, the effective parameters, the prompt as sent and the displayed text")
    func recordContent() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let plan = try smallPlan()
        let store = try ResultsStore(directory: dir.url)
        _ = try await CompareRunner(plan: plan, backend: FakeCompareBackend(), store: store, kataribeVersion: "9.9").run()
        let samples = store.entries.compactMap { if case .sample(let s) = $0 { s } else { nil } }
        let sft = try #require(samples.first { $0.modelLabel == "sft" && $0.promptID == "story" && $0.sampleIndex == 1 })
        let cell = try #require(plan.cell(model: "sft", prompt: "story"))
        #expect(sft.seed == cell.seed(sample: 1))
        #expect(sft.parameters.seed == sft.seed)
        #expect(sft.parameters.temperature == 0.7 && sft.parameters.maxNewTokens == 128)
        #expect(sft.prompt == "ユーザー: 物語を考えてください。<NL>システム: ")
        #expect(sft.settings.promptFormat == .rinnaChat)
        #expect(sft.kataribeVersion == "9.9" && sft.backend == "fake")
        #expect(sft.display == RinnaChatFormat.displayText(fromReply: sft.output))
        let calm = try #require(samples.first { $0.modelLabel == "calm" })
        #expect(calm.display == calm.prompt + calm.output)
    }

    @Test("a rerun skips finished samples and loads no model that has nothing left")
    func resume() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let plan = try smallPlan()
        _ = try await CompareRunner(plan: plan, backend: FakeCompareBackend(), store: ResultsStore(directory: dir.url),
                                    selection: CompareSelection(prompts: ["story"]), kataribeVersion: "t").run()
        let backend = RecordingBackend()
        let store = try ResultsStore(directory: dir.url)
        let result = try await CompareRunner(plan: plan, backend: backend, store: store, kataribeVersion: "t").run()
        #expect(result.alreadyFinished == 4 && result.finishedNow == 4)
        #expect(!backend.events.contains { $0.contains("story") })
        #expect(Set(sampleIDs(in: store.entries)).count == 8 && sampleIDs(in: store.entries).count == 8)

        let idle = RecordingBackend()
        let again = try await CompareRunner(plan: plan, backend: idle, store: store, kataribeVersion: "t").run()
        #expect(again.pending == 0 && idle.events.isEmpty)
    }

    @Test("the same plan reproduces the same text in a fresh folder")
    func reproducible() async throws {
        let a = try TemporaryDirectory(), b = try TemporaryDirectory()
        defer { a.cleanup(); b.cleanup() }
        let plan = try smallPlan()
        let storeA = try ResultsStore(directory: a.url), storeB = try ResultsStore(directory: b.url)
        _ = try await CompareRunner(plan: plan, backend: FakeCompareBackend(), store: storeA, kataribeVersion: "t").run()
        _ = try await CompareRunner(plan: plan, backend: FakeCompareBackend(), store: storeB, kataribeVersion: "t").run()
        func outputs(_ s: ResultsStore) -> [String] { s.entries.compactMap { if case .sample(let r) = $0 { r.output } else { nil } } }
        #expect(outputs(storeA) == outputs(storeB))
        #expect(Set(outputs(storeA)).count > 1)
    }

    @Test("changing a model's settings makes only that model's cells run again")
    func parameterChangeInvalidates() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let store = try ResultsStore(directory: dir.url)
        _ = try await CompareRunner(plan: try smallPlan(), backend: FakeCompareBackend(), store: store, kataribeVersion: "t").run()
        let changed = try smallPlan(smallSuiteYAML.replacingOccurrences(
            of: "model: demo-calm", with: "model: demo-calm\n    generation: {temperature: 0.3}"))
        let backend = RecordingBackend()
        let result = try await CompareRunner(plan: changed, backend: backend, store: store, kataribeVersion: "t").run()
        #expect(result.finishedNow == 4 && result.alreadyFinished == 4)
        #expect(backend.events.first == "load calm" && !backend.events.contains("load sft"))
    }

    @Test("a model that fails to load is recorded for each of its samples and the run goes on")
    func loadFailureContinues() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let plan = try smallPlan()
        let store = try ResultsStore(directory: dir.url)
        let events = Collected<String>()
        let result = try await CompareRunner(plan: plan, backend: FakeCompareBackend(failingModels: ["calm"]), store: store,
                                             kataribeVersion: "t").run { event in
            if case .modelFailed(let label, _, let samples) = event { events.append("\(label) \(samples)") }
        }
        #expect(events.values == ["calm 4"])
        #expect(result.failures.count == 4 && result.failures.allSatisfy { $0.stage == .load && $0.modelLabel == "calm" })
        #expect(result.finishedNow == 4)
        let report = CompareReport(plan: plan, entries: store.entries)
        #expect(report.stats.map(\.failed) == [4, 0])
        #expect(report.errors.count == 4)

        // Fixed: the rerun retries exactly the failed samples, and the report has no errors left.
        let rerun = try await CompareRunner(plan: plan, backend: FakeCompareBackend(), store: store, kataribeVersion: "t").run()
        #expect(rerun.finishedNow == 4 && rerun.failures.isEmpty)
        #expect(CompareReport(plan: plan, entries: store.entries).isComplete)
    }

    @Test("a failing cell is recorded and the other cells of the model still run")
    func sampleFailureContinues() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let store = try ResultsStore(directory: dir.url)
        let result = try await CompareRunner(plan: try smallPlan(), backend: FakeCompareBackend(failingPrompts: ["story"]),
                                             store: store, kataribeVersion: "t").run()
        #expect(result.failures.count == 4 && result.failures.allSatisfy { $0.stage == .generate && $0.promptID == "story" })
        #expect(result.finishedNow == 4)
        #expect(result.failures[0].message == "fake generation failure for story")
    }

    @Test("--models / --prompts run only the selection; the rest stays pending")
    func selection() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let plan = try smallPlan()
        let backend = RecordingBackend()
        let store = try ResultsStore(directory: dir.url)
        let result = try await CompareRunner(plan: plan, backend: backend, store: store,
                                             selection: CompareSelection(models: ["sft"], prompts: ["recipe"]), kataribeVersion: "t").run()
        #expect(result.finishedNow == 2)
        #expect(backend.events == ["load sft", "generate sft recipe 0", "generate sft recipe 1", "close sft"])
        #expect(CompareReport(plan: plan, entries: store.entries).stats.map(\.missing) == [4, 2])
    }

    @Test("a sample the backend reports as cancelled is not recorded as finished")
    func cancelledSampleIsNotFinished() async throws {
        struct CancellingBackend: CompareBackend {
            struct Session: CompareModelSession {
                var backendName: String { "test" }
                func generate(_ request: SampleRequest, progress: @escaping @Sendable (Int) -> Void) async throws -> SampleOutput {
                    SampleOutput(text: "途中", promptTokens: 1, outputTokens: 1, stopReason: StopReason.cancelled.rawValue)
                }
                func close() async {}
            }
            func load(_ model: PlannedModel, samplesPerCell: Int) async throws -> any CompareModelSession { Session() }
        }
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let store = try ResultsStore(directory: dir.url)
        let result = try await CompareRunner(plan: try smallPlan(), backend: CancellingBackend(), store: store, kataribeVersion: "t").run()
        #expect(result.cancelled && result.finishedNow == 0)
        #expect(store.entries.isEmpty)
    }

    @Test("cancellation stops between samples, keeps what finished, and closes the model")
    func cancellation() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let plan = try smallPlan()
        let backend = RecordingBackend(FakeCompareBackend(tokensPerSample: 5, tokenDelay: .milliseconds(20)))
        let store = try ResultsStore(directory: dir.url)
        let runner = CompareRunner(plan: plan, backend: backend, store: store, kataribeVersion: "t")
        let task = Task { try await runner.run() }
        while sampleIDs(in: store.entries).count < 2 { try await Task.sleep(for: .milliseconds(5)) }
        task.cancel()
        let result = try await task.value
        #expect(result.cancelled)
        #expect(result.failures.isEmpty)
        #expect(backend.events.last?.hasPrefix("close") == true)
        let finished = sampleIDs(in: store.entries).count
        #expect(finished >= 2 && finished < 8)

        let rest = try await CompareRunner(plan: plan, backend: FakeCompareBackend(), store: store, kataribeVersion: "t").run()
        #expect(rest.finishedNow == 8 - finished)
        #expect(Set(sampleIDs(in: store.entries)).count == 8 && sampleIDs(in: store.entries).count == 8)
    }
}
