import ArgumentParser
import Foundation
import KataribeCompare
import KataribeApp
import KataribeSupport
import KataribeTensor

/// `kataribe eval --model M [--model M2 ...] (--task FILE.jsonl | --perplexity FILE.txt) [--json] [--markdown FILE]`
struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Score multiple-choice tasks (acc, acc_norm) or a text's perplexity as lm-evaluation-harness does.",
        discussion: """
        Task file (--task): one JSON object per line,
          {"id": "q1", "context": "質問：…\\n答え：", "choices": ["東京", "大阪"], "label": 0}
        where label is the index of the right choice, id (a string or a number) defaults to the line \
        number, and an optional "delimiter" is put between the context and each choice (default: \
        --delimiter, itself empty by default; lm-eval's own default target_delimiter is a space, and its \
        Japanese-leaderboard JCommonsenseQA uses a newline).

        Each choice is one request scored as lm-evaluation-harness 0.4 scores multiple_choice tasks: \
        trailing whitespace of the context moves to the front of the continuation (delimiter + choice); \
        context + continuation is tokenized as a whole without special tokens (like lm-eval's \
        local-completions model; --add-special-tokens is its add_bos_token=True) and the context's own \
        tokens are cut off its front; an empty context becomes the BOS (else EOS) token. The \
        log-likelihood is the sum of log-softmax over the continuation's tokens; inputs longer than \
        --max-length + 1 tokens lose context from the left. acc: the choice with the highest \
        log-likelihood is the label. acc_norm: the same after dividing each log-likelihood by the \
        length of the choice in characters (the choice alone, without the delimiter).

        Perplexity (--perplexity): the whole UTF-8 file is one document, scored in lm-eval's rolling \
        windows (loglikelihood_rolling): every token is predicted once, the first after the BOS/EOS \
        token, and no window gives the model more than --max-length tokens. Reported: token \
        perplexity, word perplexity (words counted as lm-eval counts them, by splitting on whitespace, \
        so Japanese text without spaces has few "words" and a huge, possibly Infinity, word \
        perplexity), byte perplexity and bits per byte (UTF-8 bytes; the figure to compare across \
        tokenizers).

        Several --model options score the same file with each model in turn, one loaded at a time, and \
        print one table row per model. --json prints one JSON object per model, each on its own line \
        (keys in README: kataribe eval). A progress bar is drawn on stderr when it is a terminal.
        """)

    @Option(name: .long, parsing: .singleValue, help: ArgumentHelp(
        "A model to evaluate (repeat for a side-by-side table): a folder, a demo model, a preset id or a Hugging Face id.",
        discussion: ModelNames.modelHelp.discussion, valueName: "name-or-path"))
    var model: [String] = []

    @Option(name: .long, help: ArgumentHelp("Use this preset's settings (tokenizer kind) for every model.", valueName: "preset-id"))
    var preset: String?

    @Option(name: .long, help: ModelNames.revisionHelp)
    var revision: String?

    @Flag(name: .long, help: ModelNames.offlineHelp)
    var offline = false

    @Option(name: .long, help: "Worker threads for the forward pass (default: one per core).")
    var threads: Int?

    @Option(name: .long, help: "Weight format: f32, f16, bf16, q8, q4 (default: as stored).")
    var dtype: String?

    @Option(name: .long, help: ArgumentHelp("Multiple-choice task file (JSON lines).", valueName: "file.jsonl"))
    var task: String?

    @Option(name: .long, help: ArgumentHelp("Text file whose rolling-window perplexity to compute.", valueName: "file.txt"))
    var perplexity: String?

    @Option(name: .long, help: ArgumentHelp(
        "Text between the context and each choice for task lines without \"delimiter\" (default: none).",
        discussion: "lm-eval's default target_delimiter is \" \"; pass --delimiter ' ' to match an English task, $'\\n' a newline.",
        valueName: "text"))
    var delimiter = ""

    @Flag(name: .long, help: "Encode with the tokenizer's special tokens (a BOS for Llama-style tokenizers), like lm-eval's add_bos_token=True.")
    var addSpecialTokens = false

    @Option(name: .long, help: ArgumentHelp(
        "The most tokens the model is given at once (default: its context length).",
        discussion: "lm-eval's hf model's max_length. Its local-completions model sends at most max_length - 1 tokens, "
            + "the last one scored included; pass that max_length - 2 here to truncate the same way.",
        valueName: "tokens"))
    var maxLength: Int?

    @Option(name: .long, help: "Score only the first N items of the task (lm-eval's --limit).")
    var limit: Int?

    @Flag(name: .long, help: "Print one JSON object per model, one per line.")
    var json = false

    @Option(name: .long, help: ArgumentHelp("Also write the summary table as Markdown to this file.", valueName: "file.md"))
    var markdown: String?

    @Option(name: .long, help: ArgumentHelp(
        "Also write an HTML report to this file: the summary, and for a task each item's answer per model.", valueName: "file.html"))
    var html: String?

    func validate() throws {
        guard !model.isEmpty else { throw ValidationError("give at least one --model") }
        guard (task == nil) != (perplexity == nil) else { throw ValidationError("give either --task FILE.jsonl or --perplexity FILE.txt") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        try ModelNames.validate(dtype: dtype)
        if let maxLength, maxLength < 1 { throw ValidationError("--max-length must be at least 1") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        if limit != nil, task == nil { throw ValidationError("--limit applies to --task only") }
    }

    func run() async throws {
        // Inputs are checked before any model loads: a bad line should not cost a multi-gigabyte load.
        let input: EvalInput
        do {
            if let task {
                var loaded = try MultipleChoiceTask.load(file: URL(fileURLWithPath: task), defaultDelimiter: delimiter)
                if let limit { loaded.items = Array(loaded.items.prefix(limit)) }
                input = .task(loaded)
            } else {
                input = .text(try Self.readText(perplexity ?? ""), file: perplexity ?? "")
            }
        } catch {
            CLIOutput.fail(error.description)
        }

        let progress = EvalProgress(terminal: Terminal.stderrTakesEscapes)
        var reports: [EvalReport] = []
        for name in model {
            // One model at a time: each is released (its weights unmapped) when `evaluate` returns, before the next loads.
            let report = await evaluate(name, input: input, progress: progress)
            if json { EvalOutput.printJSONLine(report) }
            reports.append(report)
        }
        if !json { print(EvalOutput.table(reports), terminator: "") }
        for (path, text) in [(markdown, { EvalOutput.markdown(reports) }), (html, { EvalOutput.html(reports) })] {
            guard let path else { continue }
            do {
                try Data(text().utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
            } catch {
                CLIOutput.fail("cannot write \(path): \(error.localizedDescription)")
            }
        }
    }

    private func evaluate(_ name: String, input: EvalInput, progress: EvalProgress) async -> EvalReport {
        let loaded = await load(name)
        do {
            switch input {
            case .task(let task):
                let evaluator = try MultipleChoiceEvaluator(model: loaded, addSpecialTokens: addSpecialTokens, maxLength: maxLength)
                progress.start(model: name, unit: "requests")
                defer { progress.finish() }
                return .multipleChoice(try evaluator.evaluate(task, model: name) { progress.update($0, of: $1) })
            case let .text(text, file):
                let evaluator = try PerplexityEvaluator(model: loaded, addSpecialTokens: addSpecialTokens, maxLength: maxLength)
                progress.start(model: name, unit: "windows")
                defer { progress.finish() }
                return .perplexity(try evaluator.evaluate(text: text, file: file, model: name) { progress.update($0, of: $1) })
            }
        } catch {
            CLIOutput.fail("\(name): \(error.description)")
        }
    }

    private func load(_ name: String) async -> LoadedModel {
        let weightFormat = dtype.flatMap(WeightFormat.init(dtypeName:))
        let options = ModelLoadOptions(threads: threads, preset: preset, revision: revision, offline: offline ? true : nil,
                                       weightFormat: weightFormat, quantizedCache: weightFormat?.standardQuantizedCache)
        let renderer = ProgressRenderer(terminal: Terminal.stderrTakesEscapes)
        do {
            let loaded = try await LoadedModel.load(name, options: options) { renderer.render($0) }
            renderer.finish()
            return loaded
        } catch {
            renderer.finish()
            CLIOutput.fail(error.description)
        }
    }

    /// Perplexity texts are read whole; far beyond this a run would take days anyway.
    static let textLimit = 256 << 20

    static func readText(_ path: String) throws(EvaluationInputError) -> String {
        let bytes: [UInt8]
        do { bytes = try UntrustedFile.read(URL(fileURLWithPath: path), limit: textLimit) } catch { throw .unreadable(error) }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw .notUTF8(file: path) }
        guard !text.isEmpty else { throw .emptyText(file: path) }
        return text
    }
}

private enum EvalInput {
    case task(MultipleChoiceTask)
    case text(String, file: String)
}

/// One model's result, of whichever kind the command computed.
enum EvalReport: Encodable {
    case multipleChoice(MultipleChoiceReport)
    case perplexity(PerplexityReport)

    func encode(to encoder: any Encoder) throws {
        switch self {
        case .multipleChoice(let report): try report.encode(to: encoder)
        case .perplexity(let report): try report.encode(to: encoder)
        }
    }
}

/// The summary table (plain text and Markdown) and the JSON lines of `kataribe eval`.
enum EvalOutput {
    static func printJSONLine(_ report: EvalReport) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Word perplexity of text with few spaces overflows a Double; JSON has no Infinity literal.
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        do {
            // Unbuffered, so a pipe sees each model's line when that model is done, not at exit.
            Terminal.out(String(decoding: try encoder.encode(report), as: UTF8.self) + "\n")
        } catch {
            CLIOutput.fail("cannot encode JSON: \(error)")
        }
    }

    static func rows(_ reports: [EvalReport]) -> (header: [String], rows: [[String]]) {
        var header: [String] = []
        var rows: [[String]] = []
        for report in reports {
            switch report {
            case .multipleChoice(let r):
                header = ["task", "model", "n", "acc", "acc_norm"]
                rows.append([r.task, r.model, String(r.n), withError(r.acc, r.accStderr), withError(r.accNorm, r.accNormStderr)])
            case .perplexity(let r):
                header = ["file", "model", "tokens", "token_ppl", "word_ppl", "byte_ppl", "bits_per_byte"]
                rows.append([r.file, r.model, String(r.tokens), number(r.tokenPerplexity), number(r.wordPerplexity),
                             number(r.bytePerplexity), String(format: "%.4f", r.bitsPerByte)])
            }
        }
        return (header, rows)
    }

    static func table(_ reports: [EvalReport]) -> String {
        let (header, rows) = rows(reports)
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            zip(cells, widths).map { $0 + String(repeating: " ", count: $1 - $0.count) }.joined(separator: "  ")
                .replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression) + "\n"
        }
        return line(header) + rows.map(line).joined()
    }

    static func markdown(_ reports: [EvalReport]) -> String {
        let (header, rows) = rows(reports)
        func line(_ cells: [String]) -> String {
            "| " + cells.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |\n"
        }
        return line(header) + line(header.map { _ in "---" }) + rows.map(line).joined()
    }

    /// The summary table and, for a task, one row per item with each model's answer (✓ right,
    /// ✗ wrong), styled like compare's report.
    static func html(_ reports: [EvalReport]) -> String {
        let e = HTMLReport.escape
        let (header, rows) = rows(reports)
        func row(_ cells: [String], tag: String) -> String { "<tr>" + cells.map { "<\(tag)>\(e($0))</\(tag)>" }.joined() + "</tr>" }
        var body = "<h1>kataribe eval</h1><div class=\"scroll\"><table><thead>\(row(header, tag: "th"))</thead><tbody>"
            + rows.map { row($0, tag: "td") }.joined() + "</tbody></table></div>"
        let tasks = reports.compactMap { report -> MultipleChoiceReport? in
            if case .multipleChoice(let r) = report { return r }
            return nil
        }
        if let first = tasks.first {
            body += "<h2>Answers</h2><div class=\"scroll\"><table><thead><tr><th>id</th><th>label</th>"
                + tasks.map { "<th>\(e($0.model))</th>" }.joined() + "</tr></thead><tbody>"
            for (index, item) in first.items.enumerated() {
                body += "<tr><td>\(e("\(item.id)"))</td><td class=\"num\">\(item.label)</td>"
                for task in tasks where index < task.items.count {
                    let result = task.items[index]
                    body += "<td class=\"num\">\(result.pred) \(result.pred == result.label ? "✓" : "✗")</td>"
                }
                body += "</tr>"
            }
            body += "</tbody></table></div>"
        }
        return """
        <!DOCTYPE html>
        <html lang="ja"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>kataribe eval</title><style>\(HTMLReport.style)</style></head>
        <body>\(body)</body></html>

        """
    }

    private static func withError(_ value: Double, _ stderr: Double?) -> String {
        String(format: "%.4f", value) + (stderr.map { String(format: " ± %.4f", $0) } ?? "")
    }

    private static func number(_ value: Double) -> String {
        guard value.isFinite else { return value.isNaN ? "nan" : "inf" }
        return value < 1e6 ? String(format: "%.4f", value) : String(format: "%.4e", value)
    }
}

/// Scoring progress on stderr: a bar redrawn in place (requests or windows done, rate, ETA, model),
/// drawn only where stderr takes escape codes (`Terminal.stderrTakesEscapes`) so logs and pipes stay clean.
final class EvalProgress: @unchecked Sendable {  // state guarded by `lock`
    private struct State {
        var model = ""
        var unit = ""
        var started = ContinuousClock.now
        var lastDraw: ContinuousClock.Instant?
        var drewBar = false
    }

    private let terminal: Bool
    private let lock = NSLock()
    private var state = State()

    init(terminal: Bool) { self.terminal = terminal }

    func start(model: String, unit: String) {
        lock.withLock {
            state = State(model: model, unit: unit, started: .now)
        }
    }

    func update(_ done: Int, of total: Int) {
        guard terminal else { return }
        lock.withLock {
            let now = ContinuousClock.now
            if done < total, let last = state.lastDraw, now - last < .milliseconds(100) { return }
            state.lastDraw = now
            let width = 24
            let fraction = total > 0 ? Double(done) / Double(total) : 1
            let filled = min(width, Int(fraction * Double(width)))
            let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
            let elapsed = Self.seconds(now - state.started)
            let rate = elapsed > 0 ? String(format: " %.1f/s", Double(done) / elapsed) : ""
            var eta = ""
            if done > 0, total > done {
                let remaining = Int((elapsed / Double(done) * Double(total - done)).rounded())
                eta = remaining >= 60 ? " ETA \(remaining / 60)m\(String(format: "%02d", remaining % 60))s" : " ETA \(remaining)s"
            }
            // Kept short so the line never wraps (a wrapped line cannot be redrawn in place).
            let name = state.model.count > 32 ? state.model.prefix(31) + "…" : Substring(state.model)
            write("\r\u{1B}[2K\(bar) \(done)/\(total) \(state.unit)\(rate)\(eta) · \(name)")
            state.drewBar = true
        }
    }

    /// Clears the bar so the table or the next model's bar starts on a clean line.
    func finish() {
        lock.withLock {
            if state.drewBar { write("\r\u{1B}[2K") }
            state.drewBar = false
        }
    }

    private static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
