import Foundation

/// The files of an output folder:
///
/// | file | content |
/// | --- | --- |
/// | `results.jsonl` | every sample, error and repair note, one JSON object per line (`ResultsStore`) |
/// | `plan.json` | the resolved suite of the latest run, so `--report-only` needs only the folder |
/// | `report.md` | article-style Markdown tables |
/// | `report.html` | self-contained HTML page |
///
/// `plan.json` and the reports are replaced atomically.
public enum CompareOutput {
    public static let planFileName = "plan.json"
    public static let markdownFileName = "report.md"
    public static let htmlFileName = "report.html"

    public static func writePlan(_ plan: ComparePlan, to directory: URL) throws(ResultsStoreError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        let data: Data
        do { data = try encoder.encode(plan) } catch {
            throw .writeFailed(path: directory.appendingPathComponent(planFileName).path, reason: "\(error)")
        }
        try AtomicFile.write(data, to: directory.appendingPathComponent(planFileName))
    }

    public static func readPlan(from directory: URL) throws(CompareOutputError) -> ComparePlan {
        let url = directory.appendingPathComponent(planFileName)
        guard FileManager.default.fileExists(atPath: url.path) else { throw .noPlan(directory: directory.path) }
        do {
            return try JSONDecoder().decode(ComparePlan.self, from: Data(contentsOf: url))
        } catch {
            throw .unreadablePlan(path: url.path, reason: "\(error)")
        }
    }

    /// Writes `report.md` and `report.html`; returns their URLs.
    @discardableResult
    public static func writeReports(_ report: CompareReport, to directory: URL) throws(ResultsStoreError) -> (markdown: URL, html: URL) {
        let markdown = directory.appendingPathComponent(markdownFileName)
        let html = directory.appendingPathComponent(htmlFileName)
        try AtomicFile.write(MarkdownReport.render(report), to: markdown)
        try AtomicFile.write(HTMLReport.render(report), to: html)
        return (markdown, html)
    }
}

public enum CompareOutputError: Error, CustomStringConvertible, Equatable, Sendable {
    case noPlan(directory: String)
    case unreadablePlan(path: String, reason: String)

    public var description: String {
        switch self {
        case .noPlan(let directory):
            return "\(directory): no \(CompareOutput.planFileName) here; run `kataribe compare SUITE.yaml --output \(directory)` first"
        case let .unreadablePlan(path, reason): return "\(path): cannot read the plan: \(reason)"
        }
    }
}

/// The `--json` document: what ran, where the files are, and what failed.
public struct CompareSummary: Codable, Sendable, Equatable {
    public struct Samples: Codable, Sendable, Equatable {
        /// All samples of the plan.
        public var planned: Int
        /// Finished, in total (earlier runs included).
        public var finished: Int
        /// Finished by this run.
        public var finishedNow: Int
        /// Selected samples this run skipped because earlier runs finished them.
        public var skipped: Int
        /// Samples whose latest attempt failed.
        public var failed: Int
        /// Not attempted (deselected, or the run was interrupted).
        public var missing: Int

        enum CodingKeys: String, CodingKey {
            case planned, finished, skipped, failed, missing
            case finishedNow = "finished_now"
        }
    }

    public struct Failure: Codable, Sendable, Equatable {
        public var model: String
        public var prompt: String
        public var sample: Int
        public var stage: String
        public var message: String
    }

    public var suite: String
    public var title: String
    public var outputDirectory: String
    public var results: String
    public var reports: [String: String]
    public var samples: Samples
    public var models: [CompareReport.ModelStats]
    public var failures: [Failure]
    public var interrupted: Bool
    /// The process exit status (see `kataribe compare --help`).
    public var exitStatus: Int32

    enum CodingKeys: String, CodingKey {
        case suite, title, results, reports, samples, models, failures, interrupted
        case outputDirectory = "output_directory"
        case exitStatus = "exit_status"
    }

    public init(report: CompareReport, directory: URL, run: CompareRunResult?, exitStatus: Int32) {
        suite = report.plan.name
        title = report.plan.title
        outputDirectory = directory.path
        results = directory.appendingPathComponent(ResultsLog.fileName).path
        reports = [
            "markdown": directory.appendingPathComponent(CompareOutput.markdownFileName).path,
            "html": directory.appendingPathComponent(CompareOutput.htmlFileName).path,
        ]
        let finished = report.stats.reduce(0) { $0 + $1.finished }
        let failed = report.stats.reduce(0) { $0 + $1.failed }
        let planned = report.plan.cells.count * report.plan.samples
        samples = Samples(planned: planned, finished: finished, finishedNow: run?.finishedNow ?? 0,
                          skipped: run?.alreadyFinished ?? 0, failed: failed, missing: planned - finished - failed)
        models = report.stats
        failures = report.errors.map {
            Failure(model: $0.modelLabel, prompt: $0.promptID, sample: $0.sampleIndex + 1, stage: $0.stage.rawValue, message: $0.message)
        }
        interrupted = run?.cancelled ?? false
        self.exitStatus = exitStatus
    }

    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}
