import ArgumentParser
import Dispatch
import Foundation
import KataribeCompare
import KataribeGeneration

/// `kataribe compare SUITE.yaml`: several models × several prompts × several samples, as tables.
struct CompareCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Run every model of a suite on every prompt, several samples each, and write side-by-side reports.",
        discussion: """
        Suite file (see Examples/demo.yaml and Examples/seed-article.yaml):

          name: my-suite                 # output folder name (default: the file name)
          samples: 3                     # per model and prompt
          seed: 42                       # every sample seed derives from it
          generation: {max_new_tokens: 64}   # overrides for every model
          models:
            - label: open-calm-7b        # column name; also used by --models and picks
              model: cyberagent/open-calm-7b   # any --model name: demo, preset id, hub id or folder
              generation: {temperature: 0.8}   # wins over the suite's settings
            - label: remote
              endpoint: {base_url: "http://gpu1:8000", model: cyberagent/open-calm-7b}
          prompts:
            - id: story
              title: 物語
              completion: 昔々あるところに、      # for plain models
              instruction: 物語を考えてください。  # for chat-format models

        Model entries may also set preset (the settings to start from; a folder that matches no preset \
        gets its tokenizer family's and a note saying so), dtype (the load format, as --dtype: f32, f16, \
        bf16, q8, q4), family, tokenizer, prompt_format, add_special_tokens, skip_special_tokens and \
        decode_includes_prompt. Command-line overrides win over both levels. \
        An endpoint (OpenAI-compatible POST /v1/completions: vLLM, TGI, kataribe serve) may name \
        api_key_env, an environment variable holding its Bearer token, and concurrency, how many \
        requests to send at once (default 1) to a server that runs several in parallel, such as vLLM or \
        kataribe serve --parallel N.

        Models are loaded one at a time (peak memory is one model); an in-process model generates the \
        samples of a cell together as one batch (--batch sets how many). Every finished sample is appended at \
        once (write + fsync) to results.jsonl in the output folder, so an interrupted run loses nothing: \
        rerunning the same command skips finished samples and does the rest. A sample counts as finished \
        only for the same effective settings (model, preset fields, generation settings, prompt text, \
        suite seed); change any of them and that cell runs again. Sample seeds derive from the suite seed, \
        the model label, the prompt id and the sample number, so reruns reproduce the same text.

        Output folder: results.jsonl, plan.json, report.md (article-style tables), report.html \
        (self-contained page). --report-only DIR rebuilds the reports from results.jsonl and plan.json.

        Picks file (YAML): `story: {open-calm-7b: 2}` shows sample #2 of open-calm-7b in the story \
        table (samples are numbered from 1 as in the reports); unpicked cells show their first sample.

        Exit status: 0 when every selected sample is finished; 1 when a model or a sample failed (the \
        failures are in results.jsonl and the reports, and a rerun retries them); 2 when the suite, the \
        picks file or the output folder cannot be used (nothing ran); 130 when interrupted with Ctrl-C \
        (the reports cover what finished).
        """
    )

    @Argument(help: "Suite file (YAML), e.g. Examples/demo.yaml.")
    var suite: String?

    @Option(name: [.short, .long], help: "Output folder (default: ./kataribe-results/<suite name>).")
    var output: String?

    @Option(help: "Samples per model and prompt (overrides the suite's `samples`).")
    var samples: Int?

    @Option(help: "Suite seed every sample seed derives from (overrides the suite's `seed`).")
    var seed: UInt64?

    @Option(help: "Generate at most this many tokens per sample (overrides every model's max_new_tokens).")
    var maxNewTokens: Int?

    @Option(help: ArgumentHelp("Run only these models (comma-separated labels).", valueName: "label,label"))
    var models: String?

    @Option(help: ArgumentHelp("Run only these prompts (comma-separated ids).", valueName: "id,id"))
    var prompts: String?

    @Option(help: "Picks file choosing the sample each table shows.")
    var picks: String?

    @Option(help: ArgumentHelp("Rebuild the reports of an output folder from its results.jsonl; runs nothing.", valueName: "DIR"))
    var reportOnly: String?

    @Flag(help: "Print a JSON summary on stdout.")
    var json = false

    @Option(help: "Threads for in-process models (default: all cores).")
    var threads: Int?

    @Option(help: ArgumentHelp("Samples of one model generated together in one batch (local models): the samples of a cell "
                               + "by default; larger values also batch cells of the same model.", valueName: "N"))
    var batch: Int?

    @Option(help: ArgumentHelp("Backend for in-process models: local or fake (testing).", visibility: .hidden))
    var backend: String = "local"

    @Option(help: ArgumentHelp("Delay per token of the fake backend, in milliseconds.", visibility: .hidden))
    var fakeDelayMs: Int = 0

    @Option(help: ArgumentHelp("Tokens per sample of the fake backend.", visibility: .hidden))
    var fakeTokens: Int = 12

    func validate() throws {
        if reportOnly == nil, suite == nil { throw ValidationError("give a suite file, or --report-only DIR") }
        if reportOnly != nil, suite != nil { throw ValidationError("--report-only rebuilds reports from a folder; give no suite file") }
        if let samples, !(1...1000).contains(samples) { throw ValidationError("--samples must be between 1 and 1000") }
        if let maxNewTokens, maxNewTokens < 1 { throw ValidationError("--max-new-tokens must be at least 1") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if let batch, batch < 1 { throw ValidationError("--batch must be at least 1") }
        if !["local", "fake"].contains(backend) { throw ValidationError("--backend must be local or fake") }
    }

    func run() async throws {
        do {
            if let reportOnly {
                try rebuildReports(URL(fileURLWithPath: reportOnly))
            } else if let suite {
                try await runSuite(suite)
            }
        } catch let failure as CompareExit {
            throw ExitCode(failure.status)
        } catch let error as CompareInputError {
            throw Self.fail(error)
        } catch let error as ResultsStoreError {
            throw Self.fail(error)
        } catch let error as CompareOutputError {
            throw Self.fail(error)
        }
    }

    /// Input and output problems exit with 2, apart from 1 for samples that failed to generate.
    static func fail(_ error: any Error) -> ExitCode {
        CLIOutput.error("\(error)")
        return ExitCode(2)
    }

    private func runSuite(_ path: String) async throws {
        let suite = try SuiteLoader.load(file: path)
        var generation = GenerationParameters()
        generation.maxNewTokens = maxNewTokens
        let plan = try ComparePlan(suite: suite, overrides: CompareOverrides(samples: samples, seed: seed, generation: generation))
        let selection = CompareSelection(models: Self.list(models), prompts: Self.list(prompts))
        try plan.validate(selection: selection)
        let picks = try picks.map { file throws(CompareInputError) in try Picks.load(file: file, plan: plan) } ?? Picks()

        let directory = URL(fileURLWithPath: output ?? "kataribe-results/\(suite.name)")
        let store = try ResultsStore(directory: directory)
        let progress = CompareProgress(terminal: Terminal.stderrTakesEscapes)
        for note in store.recoveryNotes { progress.note(note) }
        try CompareOutput.writePlan(plan, to: directory)

        let runner = CompareRunner(plan: plan, backend: makeBackend(progress), store: store, selection: selection,
                                   kataribeVersion: KataribeVersion.current)
        let runTask = Task { () throws(ResultsStoreError) -> CompareRunResult in
            try await runner.run { progress.handle($0) }
        }
        let interrupts = InterruptHandler {
            progress.note("interrupted: stopping after the current sample (press Ctrl-C again to quit at once)")
            runTask.cancel()
        }
        let result: CompareRunResult
        do {
            result = try await runTask.value
        } catch {
            progress.finish()
            throw error
        }
        interrupts.stop()
        progress.finish()

        let report = CompareReport(plan: plan, entries: store.entries, picks: picks)
        let files = try CompareOutput.writeReports(report, to: directory)
        let status: Int32 = result.cancelled ? 130 : (result.failures.isEmpty ? 0 : 1)
        progress.note(Self.closingLine(result, report: report, markdown: files.markdown))
        if json { print(CompareSummary(report: report, directory: directory, run: result, exitStatus: status).json()) }
        if status != 0 { throw CompareExit(status: status) }
    }

    private func rebuildReports(_ directory: URL) throws {
        let plan = try CompareOutput.readPlan(from: directory)
        let picks = try picks.map { file throws(CompareInputError) in try Picks.load(file: file, plan: plan) } ?? Picks()
        let log = try ResultsLog.read(directory: directory)
        for warning in log.warnings { FileHandle.standardError.write(Data("note: \(warning)\n".utf8)) }
        let report = CompareReport(plan: plan, entries: log.entries, picks: picks)
        let files = try CompareOutput.writeReports(report, to: directory)
        FileHandle.standardError.write(Data("wrote \(files.markdown.path) and \(files.html.path)\n".utf8))
        if json { print(CompareSummary(report: report, directory: directory, run: nil, exitStatus: 0).json()) }
    }

    private func makeBackend(_ progress: CompareProgress) -> any CompareBackend {
        let local: any CompareBackend
        if backend == "fake" {
            local = FakeCompareBackend(tokensPerSample: max(1, fakeTokens), tokenDelay: .milliseconds(max(0, fakeDelayMs)),
                                       concurrentSamples: batch ?? 1)
        } else {
            // Loading notes (a folder that matches no preset) go between the progress lines, not through the bar.
            local = LocalBackend(threads: threads, batch: batch, notices: { progress.note($0) })
        }
        return RoutingBackend(local: local, endpoint: EndpointBackend())
    }

    static func list(_ text: String?) -> [String]? {
        text.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
    }

    static func closingLine(_ result: CompareRunResult, report: CompareReport, markdown: URL) -> String {
        var parts = ["\(result.finishedNow) samples finished now", "\(result.alreadyFinished) already finished"]
        if !result.failures.isEmpty { parts.append("\(result.failures.count) failed (rerun to retry)") }
        if result.cancelled { parts.append("interrupted (rerun to continue)") }
        return parts.joined(separator: ", ") + "; report: \(markdown.path)"
    }
}

/// The exit status decided after the reports are written.
private struct CompareExit: Error {
    let status: Int32
}

/// The first Ctrl-C cancels the run gracefully; the second exits at once (finished samples are on disk).
private final class InterruptHandler {
    private let source: any DispatchSourceSignal

    init(_ onFirst: @escaping @Sendable () -> Void) {
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        let count = Counter()
        source.setEventHandler {
            if count.increment() == 1 { onFirst() } else { exit(130) }
        }
        source.resume()
        self.source = source
    }

    func stop() {
        source.cancel()
        signal(SIGINT, SIG_DFL)
    }

    private final class Counter: @unchecked Sendable {  // guarded by `lock`
        private let lock = NSLock()
        private var value = 0
        func increment() -> Int { lock.withLock { value += 1; return value } }
    }
}
