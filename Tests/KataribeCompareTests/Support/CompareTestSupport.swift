import Foundation
import KataribeApp
import KataribeCompare
import KataribeGeneration
import KataribeTestSupport

/// A small suite: two demo models (a plain one and a chat one) × two prompts.
let smallSuiteYAML = """
name: small
samples: 2
seed: 7
models:
  - label: calm
    model: demo-calm
  - label: sft
    model: demo-rinna-sft
prompts:
  - id: story
    title: 物語
    completion: 昔々あるところに、
    instruction: 物語を考えてください。
  - id: recipe
    title: カレー
    completion: カレーの作り方。まず、
    instruction: カレーの作り方を教えてください。
"""

func smallPlan(_ yaml: String = smallSuiteYAML, overrides: CompareOverrides = CompareOverrides()) throws -> ComparePlan {
    try ComparePlan(suite: SuiteLoader.parse(yaml: yaml, file: "small.yaml"), overrides: overrides)
}

/// A fresh empty folder under the system temporary folder, removed by `cleanup`.
struct TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("kataribe-compare-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func cleanup() { try? FileManager.default.removeItem(at: url) }

    var results: URL { url.appendingPathComponent("results.jsonl") }
}

/// A sample record with fixed values, for store and report tests.
func sampleRecord(cell: PlannedCell, index: Int, display: String? = nil, finishedAt: String = "2026-01-01T00:00:00.000Z",
                  tokens: Int = 10, seconds: Double = 2, load: Double = 1.5) -> SampleRecord {
    let text = display ?? "\(cell.modelLabel)/\(cell.promptID)/\(index)"
    var parameters = cell.parameters
    parameters.seed = cell.seed(sample: index)
    return SampleRecord(
        cellKey: cell.key, promptID: cell.promptID, promptTitle: cell.promptID, modelLabel: cell.modelLabel,
        source: .local(cell.modelLabel), sampleIndex: index, seed: cell.seed(sample: index), parameters: parameters,
        settings: ModelSettings(try! ModelPresetCatalog.preset(named: "demo-calm")), prompt: cell.prompt, output: text,
        display: text, promptTokens: 5, outputTokens: tokens, stopReason: "length",
        timings: SampleTimings(loadSeconds: load, firstTokenSeconds: nil, generationSeconds: seconds,
                               tokensPerSecond: Double(tokens) / seconds),
        backend: "fake", kataribeVersion: "0.0.0-test", finishedAt: finishedAt)
}

func errorRecord(cell: PlannedCell, index: Int, stage: ErrorRecord.Stage = .generate, message: String = "boom") -> ErrorRecord {
    ErrorRecord(cellKey: cell.key, promptID: cell.promptID, modelLabel: cell.modelLabel, sampleIndex: index,
                stage: stage, message: message, kataribeVersion: "0.0.0-test", at: "2026-01-01T00:00:00.000Z")
}

/// Records what the runner asked of a backend, to check ordering (one model loaded at a time).
final class RecordingBackend: CompareBackend, @unchecked Sendable {  // `log` guarded by `lock`
    private let lock = NSLock()
    private var log: [String] = []
    let inner: FakeCompareBackend

    init(_ inner: FakeCompareBackend = FakeCompareBackend()) { self.inner = inner }

    var events: [String] { lock.withLock { log } }
    func record(_ event: String) { lock.withLock { log.append(event) } }

    func load(_ model: PlannedModel, samplesPerCell: Int) async throws -> any CompareModelSession {
        record("load \(model.label)")
        let session = try await inner.load(model, samplesPerCell: samplesPerCell)
        return Session(inner: session, label: model.label, backend: self)
    }

    struct Session: CompareModelSession {
        let inner: any CompareModelSession
        let label: String
        let backend: RecordingBackend
        var backendName: String { inner.backendName }
        var maxConcurrentSamples: Int { inner.maxConcurrentSamples }

        func generate(_ request: SampleRequest, progress: @escaping @Sendable (Int) -> Void) async throws -> SampleOutput {
            backend.record("generate \(label) \(request.promptID) \(request.sampleIndex)")
            return try await inner.generate(request, progress: progress)
        }

        func close() async { backend.record("close \(label)") }
    }
}

/// Sample lines of a results file: (cell key, sample index) in file order.
func sampleIDs(in entries: [ResultEntry]) -> [String] {
    entries.compactMap { entry in
        if case .sample(let s) = entry { return "\(s.cellKey)#\(s.sampleIndex)" }
        return nil
    }
}

/// Values appended from concurrently running closures.
final class Collected<Value: Sendable>: @unchecked Sendable {  // `items` guarded by `lock`
    private let lock = NSLock()
    private var items: [Value] = []

    func append(_ value: Value) { lock.withLock { items.append(value) } }
    var values: [Value] { lock.withLock { items } }
}

/// The built `kataribe` beside this test bundle (`swift build` / `swift test` build it).
let kataribeBinary: URL? = {
    let candidates = [
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent(),
        TestPaths.packageRoot.appendingPathComponent(".build/debug"),
    ]
    return candidates.map { $0.appendingPathComponent("kataribe") }.first { FileManager.default.isExecutableFile(atPath: $0.path) }
}()
