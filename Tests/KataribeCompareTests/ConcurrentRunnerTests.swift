import Foundation
import KataribeCompare
import KataribeGeneration
import Synchronization
import Testing

/// A backend whose samples wait for each other: every `generate` holds until `gate` calls have been
/// in flight at once (or a shared deadline passes), so a runner that keeps that many in flight shows
/// it in `peak`, and one that does not fails the check instead of hanging. What each sample does
/// after the gate is up to `behavior`.
final class ConcurrencyProbe: CompareBackend {
    enum Behavior: Sendable {
        case succeed
        /// Succeeds, but only after this much longer, so samples finish out of plan order.
        case succeedAfter(Duration)
        case fail
        /// Waits until cancelled (or the deadline), then throws `CancellationError`.
        case holdThenThrow
        /// Waits until cancelled (or the deadline), then reports a cut-short sample the way the local
        /// backend does (stop reason `cancelled`).
        case holdThenReportCancelled
        /// Returns a record the store cannot encode (a NaN timing), so appending it fails.
        case unstorable
    }

    struct ProbeFailure: Error, CustomStringConvertible {
        var description: String
    }

    private struct State {
        var inFlight = 0
        var peak = 0
        var started: [String] = []
        var events: [String] = []
        var sawCancellation = 0
    }

    let limit: Int
    let gate: Int
    let deadline: ContinuousClock.Instant
    let behavior: @Sendable (SampleRequest) -> Behavior
    private let state = Mutex(State())

    /// `waitingAtMost` bounds every wait of a broken runner; it is generous because two cores running
    /// the whole suite in parallel (CI) can take many seconds to start the next task.
    init(limit: Int, gate: Int? = nil, waitingAtMost: Duration = .seconds(60),
         behavior: @escaping @Sendable (SampleRequest) -> Behavior = { _ in .succeed }) {
        self.limit = limit
        self.gate = gate ?? limit
        deadline = .now + waitingAtMost
        self.behavior = behavior
    }

    /// The most `generate` calls that were running at the same moment.
    var peak: Int { state.withLock { $0.peak } }
    var inFlight: Int { state.withLock { $0.inFlight } }
    /// "label prompt index" of every `generate` call, in the order they began running.
    var started: [String] { state.withLock { $0.started } }
    /// Loads and closes, with the calls in flight at each close.
    var events: [String] { state.withLock { $0.events } }
    /// Calls that were running when their task was cancelled.
    var sawCancellation: Int { state.withLock { $0.sawCancellation } }

    func load(_ model: PlannedModel, samplesPerCell: Int) async throws -> any CompareModelSession {
        state.withLock { $0.events.append("load \(model.label)") }
        return Session(probe: self, label: model.label)
    }

    struct Session: CompareModelSession {
        let probe: ConcurrencyProbe
        let label: String
        var backendName: String { "probe" }
        var maxConcurrentSamples: Int { probe.limit }

        func generate(_ request: SampleRequest, progress: @escaping @Sendable (Int) -> Void) async throws -> SampleOutput {
            try await probe.generate(request, progress: progress)
        }

        func close() async {
            probe.state.withLock { $0.events.append("close \(label) with \($0.inFlight) in flight") }
        }
    }

    private func generate(_ request: SampleRequest, progress: @escaping @Sendable (Int) -> Void) async throws -> SampleOutput {
        state.withLock {
            $0.inFlight += 1
            $0.peak = max($0.peak, $0.inFlight)
            $0.started.append("\(request.modelLabel) \(request.promptID) \(request.sampleIndex)")
        }
        defer { state.withLock { $0.inFlight -= 1 } }
        do {
            return try await sample(request, progress: progress)
        } catch let error as CancellationError {
            state.withLock { $0.sawCancellation += 1 }
            throw error
        }
    }

    private func sample(_ request: SampleRequest, progress: @escaping @Sendable (Int) -> Void) async throws -> SampleOutput {
        // Cancellation ends the wait; what the sample then does is `behavior`'s to say.
        while state.withLock({ $0.peak < gate }), ContinuousClock.now < deadline, !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(5))
        }
        let text = "\(request.modelLabel)/\(request.promptID)/\(request.sampleIndex)"
        var firstTokenSeconds: Double?
        switch behavior(request) {
        case .succeed:
            break
        case .succeedAfter(let delay):
            try await Task.sleep(for: delay)
        case .fail:
            throw ProbeFailure(description: "probe failure for \(text)")
        case .holdThenThrow:
            while ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        case .holdThenReportCancelled:
            while !Task.isCancelled, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(5)) }
            if Task.isCancelled {
                state.withLock { $0.sawCancellation += 1 }
                return SampleOutput(text: "途中", promptTokens: 1, outputTokens: 1, stopReason: StopReason.cancelled.rawValue)
            }
        case .unstorable:
            firstTokenSeconds = .nan
        }
        progress(3)
        return SampleOutput(text: text, promptTokens: 2, outputTokens: 3, stopReason: StopReason.length.rawValue,
                            firstTokenSeconds: firstTokenSeconds)
    }
}

@Suite("Runner: several samples of a model at once", .timeLimit(.minutes(1)))
struct ConcurrentRunnerTests {
    /// Two models × two prompts × three samples: six samples per model.
    func plan() throws -> ComparePlan { try smallPlan(overrides: CompareOverrides(samples: 3)) }

    /// Every (model, prompt, sample) of `plan` in plan order: prompt-major, then model, then index.
    func planOrder(_ plan: ComparePlan) -> [String] {
        plan.cells.flatMap { cell in (0..<plan.samples).map { "\(cell.modelLabel) \(cell.promptID) \($0)" } }
    }

    func stored(_ store: ResultsStore) -> [String] {
        store.entries.compactMap { if case .sample(let s) = $0 { "\(s.modelLabel) \(s.promptID) \(s.sampleIndex)" } else { nil } }
    }

    @Test("a session's maxConcurrentSamples is 1 unless it says otherwise")
    func defaultIsOneAtATime() async throws {
        struct Plain: CompareModelSession {
            var backendName: String { "plain" }
            func generate(_ request: SampleRequest, progress: @escaping @Sendable (Int) -> Void) async throws -> SampleOutput {
                SampleOutput(text: "", promptTokens: nil, outputTokens: 0, stopReason: "length")
            }
            func close() async {}
        }
        #expect(Plain().maxConcurrentSamples == 1)
        let probe = ConcurrencyProbe(limit: 1)
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let result = try await CompareRunner(plan: try plan(), backend: probe, store: ResultsStore(directory: dir.url),
                                             kataribeVersion: "t").run()
        #expect(result.finishedNow == 12 && probe.peak == 1)
    }

    @Test("with maxConcurrentSamples 3, three samples run at once and never more, started in plan order, one model at a time")
    func keepsLimitInFlight() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let plan = try plan()
        // The first sample of each cell finishes last, so the store's order is not the plan's.
        let probe = ConcurrencyProbe(limit: 3) { $0.sampleIndex == 0 ? .succeedAfter(.milliseconds(100)) : .succeed }
        let store = try ResultsStore(directory: dir.url)
        let events = Collected<CompareEvent>()
        let result = try await CompareRunner(plan: plan, backend: probe, store: store, kataribeVersion: "t").run { events.append($0) }

        #expect(probe.peak == 3)
        #expect(result.finishedNow == 12 && result.failures.isEmpty && !result.cancelled)
        #expect(probe.events == ["load calm", "close calm with 0 in flight", "load sft", "close sft with 0 in flight"])
        // Started in plan order (the calls themselves may begin running in any order).
        let expected = planOrder(plan)
        let startedEvents = events.values.compactMap { event -> String? in
            if case let .sampleStarted(label, promptID, index) = event { return "\(label) \(promptID) \(index)" }
            return nil
        }
        #expect(startedEvents == expected.filter { $0.hasPrefix("calm ") } + expected.filter { $0.hasPrefix("sft ") })
        #expect(probe.started.sorted() == expected.sorted())
        #expect(stored(store).sorted() == expected.sorted())
        #expect(stored(store) != stored(store).sorted { expected.firstIndex(of: $0)! < expected.firstIndex(of: $1)! })

        // Every sample's events stay in order: started, then finished, all before its model closes.
        var open: Set<String> = []
        for event in events.values {
            switch event {
            case let .sampleStarted(label, promptID, index): open.insert("\(label) \(promptID) \(index)")
            case .sampleFinished(let s): #expect(open.remove("\(s.modelLabel) \(s.promptID) \(s.sampleIndex)") != nil)
            case .modelClosed: #expect(open.isEmpty)
            default: break
            }
        }
    }

    @Test("reports list samples by prompt, model and sample number, whatever order they finished in")
    func reportsFollowThePlan() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let plan = try plan()
        // Later samples finish first.
        let probe = ConcurrencyProbe(limit: 3) { .succeedAfter(.milliseconds(60 * (2 - $0.sampleIndex))) }
        let store = try ResultsStore(directory: dir.url)
        _ = try await CompareRunner(plan: plan, backend: probe, store: store, kataribeVersion: "t").run()
        #expect(stored(store).first?.hasSuffix(" 0") == false)

        let report = CompareReport(plan: plan, entries: store.entries)
        for row in report.rows {
            for cell in row.cells {
                #expect(cell.samples.map { $0?.sampleIndex } == [0, 1, 2])
                #expect(cell.samples.allSatisfy { $0?.promptID == row.prompt.id && $0?.modelLabel == cell.model.label })
            }
        }
        // Each page shows a cell's chosen sample before the list of all its samples: the last mention of
        // every sample is in those lists.
        for page in [MarkdownReport.render(report), HTMLReport.render(report)] {
            let positions = planOrder(plan).map { id in
                page.range(of: id.replacingOccurrences(of: " ", with: "/"), options: .backwards)?.lowerBound
            }
            #expect(positions.allSatisfy { $0 != nil })
            let found = positions.compactMap { $0 }
            #expect(found == found.sorted())
        }
    }

    @Test("a failing sample gets its error record while the samples beside it and after it go on")
    func failingSampleDoesNotStopOthers() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let plan = try plan()
        let probe = ConcurrencyProbe(limit: 3) { $0.promptID == "story" && $0.sampleIndex == 1 ? .fail : .succeed }
        let store = try ResultsStore(directory: dir.url)
        let result = try await CompareRunner(plan: plan, backend: probe, store: store, kataribeVersion: "t").run()
        #expect(probe.peak == 3)
        #expect(result.finishedNow == 10 && !result.cancelled)
        #expect(result.failures.map { "\($0.modelLabel) \($0.promptID) \($0.sampleIndex)" } == ["calm story 1", "sft story 1"])
        #expect(result.failures.allSatisfy { $0.stage == .generate && $0.message == "probe failure for \($0.modelLabel)/story/1" })
        let errors = store.entries.filter { if case .error = $0 { true } else { false } }
        #expect(errors.count == 2)
        #expect(CompareReport(plan: plan, entries: store.entries).stats.map(\.failed) == [1, 1])
    }

    @Test("cancellation starts no further sample and records none of those cut short", arguments: [true, false])
    func cancellationRecordsNothingPartial(throwing: Bool) async throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let plan = try plan()
        let probe = ConcurrencyProbe(limit: 3) { _ in throwing ? .holdThenThrow : .holdThenReportCancelled }
        let store = try ResultsStore(directory: dir.url)
        let runner = CompareRunner(plan: plan, backend: probe, store: store, kataribeVersion: "t")
        let task = Task { try await runner.run() }
        let deadline = ContinuousClock.now + .seconds(60)
        while probe.inFlight < 3, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        #expect(probe.inFlight == 3)
        task.cancel()
        let result = try await task.value

        #expect(result.cancelled && result.finishedNow == 0 && result.failures.isEmpty)
        #expect(probe.sawCancellation == 3)
        #expect(probe.started.sorted() == ["calm story 0", "calm story 1", "calm story 2"])
        #expect(probe.events == ["load calm", "close calm with 0 in flight"])
        #expect(store.entries.isEmpty)

        // The rerun does everything, each sample once.
        let rest = try await CompareRunner(plan: plan, backend: FakeCompareBackend(concurrentSamples: 3), store: store,
                                           kataribeVersion: "t").run()
        #expect(rest.finishedNow == 12 && rest.alreadyFinished == 0)
        #expect(stored(store).sorted() == planOrder(plan).sorted())
    }

    @Test("cancelled midway, the samples that finished are kept and a rerun does exactly the rest")
    func cancellationKeepsFinished() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let plan = try plan()
        let store = try ResultsStore(directory: dir.url)
        let slow = FakeCompareBackend(tokensPerSample: 5, tokenDelay: .milliseconds(20), concurrentSamples: 3)
        let runner = CompareRunner(plan: plan, backend: slow, store: store, kataribeVersion: "t")
        let task = Task { try await runner.run() }
        let deadline = ContinuousClock.now + .seconds(60)
        while stored(store).count < 2, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        task.cancel()
        let result = try await task.value
        #expect(result.cancelled && result.failures.isEmpty)
        let finished = stored(store).count
        #expect(finished >= 2 && finished < 12 && result.finishedNow == finished)

        let rest = try await CompareRunner(plan: plan, backend: FakeCompareBackend(concurrentSamples: 3), store: store,
                                           kataribeVersion: "t").run()
        #expect(rest.finishedNow == 12 - finished && rest.alreadyFinished == finished)
        #expect(stored(store).sorted() == planOrder(plan).sorted())
    }

    @Test("a second run finds everything finished and loads nothing")
    func rerunDoesNothing() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let plan = try plan()
        let store = try ResultsStore(directory: dir.url)
        let first = try await CompareRunner(plan: plan, backend: ConcurrencyProbe(limit: 3), store: store, kataribeVersion: "t").run()
        #expect(first.finishedNow == 12)
        let idle = ConcurrencyProbe(limit: 3)
        let again = try await CompareRunner(plan: plan, backend: idle, store: store, kataribeVersion: "t").run()
        #expect(again.pending == 0 && again.alreadyFinished == 12 && again.finishedNow == 0)
        #expect(idle.events.isEmpty && idle.started.isEmpty)
        #expect(stored(store).count == 12)
    }

    @Test("a sample that cannot be stored stops the run: the samples beside it are cancelled and the model closed")
    func storeFailurePropagates() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let probe = ConcurrencyProbe(limit: 3) { $0.sampleIndex == 1 ? .unstorable : .holdThenThrow }
        let store = try ResultsStore(directory: dir.url)
        let runner = CompareRunner(plan: try plan(), backend: probe, store: store, kataribeVersion: "t")
        await #expect(throws: ResultsStoreError.self) { try await runner.run() }
        #expect(probe.sawCancellation == 2)
        #expect(probe.started.count == 3)
        #expect(probe.events == ["load calm", "close calm with 0 in flight"])
        #expect(store.entries.isEmpty)
    }
}
