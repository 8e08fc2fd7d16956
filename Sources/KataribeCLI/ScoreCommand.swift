import ArgumentParser
import Foundation
import KataribeApp
import KataribeModels
import KataribeTensor

/// `kataribe score --model M (--ids 1,2,3 | --text TEXT) [--json] [--top N]`
struct ScoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Log-probability of each next token of a sequence, and the top candidates after it.",
        discussion: """
        For every position i < n-1, prints log_softmax(logits[i])[ids[i+1]]: how likely the model finds \
        the token that actually follows. With --top N, also the N most likely next tokens after the last id.
        """)

    @OptionGroup var modelArguments: ModelArguments

    @Option(name: .long, help: "Comma-separated token ids, e.g. 1,2,3.")
    var ids: String?

    @Option(name: .long, help: "Text, tokenized with the model's tokenizer as its preset says (e.g. no special tokens for rinna).")
    var text: String?

    @Option(name: .long, help: "Show the N most likely tokens after the last id.")
    var top: Int = 0

    @Flag(name: .long, help: "Print JSON (see README: kataribe score --json).")
    var json = false

    func validate() throws {
        guard top >= 0 else { throw ValidationError("--top must be 0 or more") }
        guard (ids == nil) != (text == nil) else { throw ValidationError("give either --ids or --text") }
        if ids != nil { _ = try tokenIDs() }
    }

    /// The input as token ids: `--ids` parsed, or `--text` encoded with `tokenizer`.
    func tokenIDs(tokenizer: TextGenerator? = nil) throws -> [Int] {
        if let text, let tokenizer {
            let encoded = tokenizer.encode(text)
            guard !encoded.isEmpty else { throw ValidationError("--text encodes to no tokens") }
            return encoded
        }
        let parts = (ids ?? "").split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        var result: [Int] = []
        for part in parts {
            guard let id = Int(part) else { throw ValidationError("--ids: '\(part)' is not an integer token id") }
            result.append(id)
        }
        guard !result.isEmpty else { throw ValidationError("--ids is empty") }
        return result
    }

    func run() async throws {
        let report: ScoreReport
        do {
            let languageModel: any CausalLanguageModel
            let tokens: [Int]
            if text != nil {
                // --text needs the tokenizer and the preset's special-token handling.
                let loaded = await modelArguments.load()
                languageModel = loaded.model
                tokens = try tokenIDs(tokenizer: TextGenerator(model: loaded))
            } else {
                // Token ids need only the weights: a folder without tokenizer files scores too.
                let folder = await modelArguments.locate()
                languageModel = try ModelLoader.load(directory: folder, options: modelArguments.options().modelOptions)
                tokens = try tokenIDs()
            }
            report = try ScoreReport(model: languageModel, directory: modelArguments.model, ids: tokens, top: top)
        } catch {
            CLIOutput.fail("\(error)")
        }
        if json {
            CLIOutput.printJSON(report)
        } else {
            report.printTable()
        }
    }
}

/// The `kataribe score --json` document (documented in README.md).
struct ScoreReport: Encodable {
    struct Score: Encodable {
        /// Index i of the logits row; it scores ids[i + 1].
        let position: Int
        let nextID: Int
        let logprob: Double

        enum CodingKeys: String, CodingKey { case position, nextID = "next_id", logprob }
    }

    struct Candidate: Encodable {
        let id: Int
        let logit: Float
        let logprob: Double
    }

    let model: String
    let modelType: String
    let ids: [Int]
    let scores: [Score]
    let totalLogprob: Double
    let meanLogprob: Double?
    let perplexity: Double?
    let topPosition: Int
    let top: [Candidate]

    enum CodingKeys: String, CodingKey {
        case model, modelType = "model_type", ids, scores, totalLogprob = "total_logprob"
        case meanLogprob = "mean_logprob", perplexity, topPosition = "top_position", top
    }

    init(model: any CausalLanguageModel, directory: String, ids: [Int], top count: Int) throws(ModelError) {
        let logits = try model.logits(for: ids)
        self.model = directory
        self.modelType = model.config.modelType
        self.ids = ids
        var scores: [Score] = []
        for i in 0..<(ids.count - 1) {
            let row = logits[i]
            let value = row.withUnsafeBufferPointer { VectorOps.logSoftmax($0, at: ids[i + 1]) }
            scores.append(Score(position: i, nextID: ids[i + 1], logprob: value))
        }
        self.scores = scores
        totalLogprob = scores.reduce(0) { $0 + $1.logprob }
        meanLogprob = scores.isEmpty ? nil : totalLogprob / Double(scores.count)
        perplexity = meanLogprob.map { exp(-$0) }
        topPosition = ids.count - 1
        let last = logits[ids.count - 1]
        let logprobs = VectorOps.logSoftmax(last)
        // Highest logit first; ties broken by the lower id, like a stable descending sort.
        self.top = last.indices.sorted { last[$0] != last[$1] ? last[$0] > last[$1] : $0 < $1 }
            .prefix(count)
            .map { Candidate(id: $0, logit: last[$0], logprob: logprobs[$0]) }
    }

    func printTable() {
        print("model \(model) (\(modelType)), \(ids.count) tokens")
        if !scores.isEmpty {
            print("position  next_id  logprob")
            for s in scores {
                print(pad(String(s.position), 10) + pad(String(s.nextID), 9) + String(format: "%.6f", s.logprob))
            }
            print(String(format: "total logprob %.6f, mean %.6f, perplexity %.4f",
                         totalLogprob, meanLogprob ?? 0, perplexity ?? 0))
        }
        if !top.isEmpty {
            print("top \(top.count) after position \(topPosition):")
            print("id        logit       logprob")
            for c in top {
                print(pad(String(c.id), 10) + pad(String(format: "%.5f", c.logit), 12) + String(format: "%.6f", c.logprob))
            }
        }
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }
}
