import Foundation
import KataribeApp
import KataribeModels
import KataribeTensor
import KataribeTestSupport
import KataribeTokenizers
import Testing

/// A tokenizer stand-in with a tiny greedy longest-match vocabulary, so tests can see exactly how
/// `_encode_pair` cuts the whole encoding (merges across the context/continuation seam included).
private let vocabulary: [String: Int] = ["a": 1, "b": 2, "ab": 3, " ": 4, " b": 5, "c": 6, "\n": 7, "東": 8, "京": 9, " 東": 10]

private func toyEncode(_ text: String) -> [Int] {
    let scalars = Array(text.unicodeScalars)
    var tokens: [Int] = [], i = 0
    while i < scalars.count {
        var length = min(2, scalars.count - i)
        while length > 0 {
            let piece = String(String.UnicodeScalarView(scalars[i..<(i + length)]))
            if let id = vocabulary[piece] {
                tokens.append(id)
                break
            }
            length -= 1
        }
        if length == 0 {
            tokens.append(99)  // unknown
            length = 1
        }
        i += length
    }
    return tokens
}

private func toyEncoder(prefix: Int? = 0) -> RequestEncoder {
    RequestEncoder(encode: toyEncode, prefixToken: prefix)
}

@Suite("lm-eval request encoding")
struct RequestEncodingTests {
    @Test("_encode_pair: trailing whitespace of the context moves to the continuation")
    func trailingWhitespaceMoves() {
        let moved = RequestEncoder.movingTrailingWhitespace(context: "a \n", continuation: "b")
        #expect(moved.context == "a" && moved.continuation == " \nb")
        // Python's str.rstrip() strips U+3000 and the information separators U+001C...U+001F too.
        let ideographic = RequestEncoder.movingTrailingWhitespace(context: "答え：\u{3000}", continuation: "東京")
        #expect(ideographic.context == "答え：" && ideographic.continuation == "\u{3000}東京")
        let separator = RequestEncoder.movingTrailingWhitespace(context: "a\u{1F}", continuation: "b")
        #expect(separator.context == "a" && separator.continuation == "\u{1F}b")
        let none = RequestEncoder.movingTrailingWhitespace(context: "a", continuation: " b")
        #expect(none.context == "a" && none.continuation == " b")

        // "a " + "b" is encoded as "a" + " b": the space joins the choice's first token.
        #expect(toyEncoder().encodePair(context: "a ", continuation: "b") == TokenRequest(context: [1], continuation: [5]))
        #expect(toyEncoder().encodePair(context: "a ", continuation: "東京") == TokenRequest(context: [1], continuation: [10, 9]))
    }

    @Test("_encode_pair: the continuation is whole[len(context_enc):], even when a token spans the seam")
    func continuationIsCutFromTheWhole() {
        #expect(toyEncoder().encodePair(context: "c", continuation: "ab") == TokenRequest(context: [6], continuation: [3]))
        // "a" + "b" encodes as one token "ab": the context's one token is cut and nothing is left,
        // exactly as lm-eval does (its scorer then refuses the request).
        #expect(toyEncoder().encodePair(context: "a", continuation: "b") == TokenRequest(context: [1], continuation: []))
    }

    @Test("an empty context becomes the prefix token, or the continuation's first token when that is the prefix")
    func emptyContext() throws {
        #expect(try toyEncoder(prefix: 0).request(context: "", continuation: "ab") == TokenRequest(context: [0], continuation: [3]))
        #expect(try toyEncoder(prefix: 6).request(context: "", continuation: "cab") == TokenRequest(context: [6], continuation: [3]))
        #expect(throws: EvaluationError.noPrefixToken) { try toyEncoder(prefix: nil).request(context: "", continuation: "a") }
    }

    @Test("with a real tokenizer: context tokens are encode(context.rstrip()), no special tokens by default")
    func realTokenizer() throws {
        let loaded = try Fixtures.calm()
        let tokenizer = loaded.tokenizer
        let encoder = RequestEncoder(tokenizer: tokenizer)
        let request = encoder.encodePair(context: "今日の天気は ", continuation: "晴れです")
        let context = tokenizer.encode("今日の天気は", addSpecialTokens: false)
        let whole = tokenizer.encode("今日の天気は 晴れです", addSpecialTokens: false)
        #expect(request.context == context)
        #expect(request.continuation == Array(whole.dropFirst(context.count)))
        #expect(encoder.prefixToken == tokenizer.specialTokens.bos)
    }

    @Test("Python's whitespace: len(re.split(r\"\\s+\", text)) and len(text)")
    func pythonText() {
        #expect(PythonText.splitWordCount("") == 1)
        #expect(PythonText.splitWordCount(" a b ") == 4)
        #expect(PythonText.splitWordCount("a\n\nb") == 2)
        #expect(PythonText.splitWordCount("吾輩は猫である。名前はまだ無い。") == 1)
        #expect(PythonText.splitWordCount("吾輩は\u{3000}猫である\n") == 3)
        #expect(PythonText.splitWordCount("a\u{1C}b\u{200B}c") == 2)  // U+200B is not whitespace to Python
        #expect(PythonText.length("か\u{3099}") == 2)  // "が" spelt with a combining mark is two code points
    }
}

@Suite("multiple-choice metrics")
struct MultipleChoiceMetricsTests {
    @Test("acc takes the highest loglik; acc_norm divides by the choice's length in characters")
    func predictions() {
        let choices = ["猫", "ライオン", "犬"]
        let logliks = [-4.0, -6.0, -5.0]
        #expect(MultipleChoiceMetrics.prediction(logliks: logliks) == 0)
        // -4/1, -6/4 = -1.5, -5/1
        #expect(MultipleChoiceMetrics.normalizedPrediction(logliks: logliks, choices: choices) == 1)
        // The length is of the choice only; the delimiter plays no part.
        let item = MultipleChoiceItem(id: .string("x"), context: "c", choices: choices, label: 1, delimiter: "\n")
        #expect(item.continuations == ["\n猫", "\nライオン", "\n犬"])
        // Length in code points: a decomposed "が" is two, so -3/2 beats -2/1.
        #expect(MultipleChoiceMetrics.normalizedPrediction(logliks: [-2, -3], choices: ["a", "か\u{3099}"]) == 1)
    }

    @Test("ties go to the first choice, as np.argmax does; NaN wins")
    func ties() {
        #expect(MultipleChoiceMetrics.argmax([-1, -1, -2]) == 0)
        #expect(MultipleChoiceMetrics.argmax([-3, -1, -1]) == 1)
        #expect(MultipleChoiceMetrics.argmax([-1, .nan, 0]) == 1)
    }

    @Test("the report's acc, acc_norm and their standard errors (lm-eval's mean_stderr)")
    func report() {
        let items = [
            MultipleChoiceItemResult(id: .number(1), logliks: [-1, -2], isGreedy: [true, false], choices: ["a", "bbbb"], label: 0),
            MultipleChoiceItemResult(id: .number(2), logliks: [-1, -2], isGreedy: [true, false], choices: ["a", "bbbb"], label: 1),
            MultipleChoiceItemResult(id: .number(3), logliks: [-3, -2], isGreedy: [false, true], choices: ["a", "b"], label: 1),
            MultipleChoiceItemResult(id: .number(4), logliks: [-3, -2], isGreedy: [false, true], choices: ["a", "b"], label: 0),
        ]
        #expect(items.map(\.pred) == [0, 0, 1, 1])
        #expect(items.map(\.predNorm) == [1, 1, 1, 1])
        let report = MultipleChoiceReport(task: "t", model: "m", maxLength: 8, addSpecialTokens: false, items: items)
        #expect(report.n == 4)
        #expect(report.acc == 0.5)
        #expect(report.accNorm == 0.5)
        // Sample standard deviation of [1, 0, 1, 0] is sqrt(1/3); over sqrt(4).
        #expect(abs((report.accStderr ?? 0) - (1.0 / 3).squareRoot() / 2) < 1e-12)
        let single = MultipleChoiceReport(task: "t", model: "m", maxLength: 8, addSpecialTokens: false, items: [items[0]])
        #expect(single.accStderr == nil)
    }
}

@Suite("rolling windows")
struct RollingWindowTests {
    private func pairs(_ tokens: [Int], _ maxLength: Int, _ context: Int = 1) -> [[[Int]]] {
        RollingWindows.windows(tokens: tokens, prefixToken: 0, maxSequenceLength: maxLength, contextLength: context)
            .map { [$0.context, $0.continuation] }
    }

    // Expected windows written out by hand from lm-eval's get_rolling_token_windows +
    // make_disjoint_window (lm_eval/utils.py), prefix token 0.
    @Test("windows match lm-eval's get_rolling_token_windows + make_disjoint_window")
    func handWritten() {
        #expect(pairs(Array(1...10), 4) == [[[0], [1, 2, 3, 4]], [[4], [5, 6, 7, 8]], [[6, 7, 8], [9, 10]]])
        #expect(pairs([7, 8], 4) == [[[0], [7, 8]]])
        #expect(pairs([1, 2, 3, 4], 4) == [[[0], [1, 2, 3, 4]]])
        #expect(pairs([1, 2, 3], 1) == [[[0], [1]], [[1], [2]], [[2], [3]]])
        #expect(pairs(Array(1...7), 4, 2) == [[[0], [1, 2, 3, 4]], [[3, 4], [5, 6, 7]]])
        #expect(pairs(Array(1...5), 3, 3) == [[[0], [1, 2, 3]], [[1, 2, 3], [4]], [[2, 3, 4], [5]]])
        #expect(pairs([], 4).isEmpty)
    }

    @Test("every token is predicted once and no window is longer than max length + 1")
    func coverage() {
        let tokens = Array(100..<1100)
        for maxLength in [1, 2, 7, 128, 999, 1000, 2048] {
            let windows = RollingWindows.windows(tokens: tokens, prefixToken: 0, maxSequenceLength: maxLength)
            #expect(windows.flatMap(\.continuation) == tokens)
            #expect(windows.allSatisfy { $0.context.count + $0.continuation.count <= maxLength + 1 && !$0.context.isEmpty })
        }
    }
}

@Suite("task files")
struct TaskFileTests {
    private func parse(_ text: String, delimiter: String = "") throws(EvaluationInputError) -> MultipleChoiceTask {
        try MultipleChoiceTask.parse(text, file: "t.jsonl", name: "t", defaultDelimiter: delimiter)
    }

    @Test("lines become items; blank lines are skipped; id defaults to the line number; delimiter per line")
    func parses() throws {
        let task = try parse("""
            {"id": "q1", "context": "質問：A？\\n答え：", "choices": ["x", "y"], "label": 1}

            {"context": "", "choices": ["z"], "label": 0, "delimiter": " ", "extra": true}
            {"id": 7, "context": "c", "choices": ["x", "y", "z"], "label": 2}
            """, delimiter: "\n")
        #expect(task.items.count == 3)
        #expect(task.items[0] == MultipleChoiceItem(id: .string("q1"), context: "質問：A？\n答え：", choices: ["x", "y"], label: 1,
                                                    delimiter: "\n", line: 1))
        #expect(task.items[1].id == .number(3) && task.items[1].delimiter == " ")
        #expect(task.items[2].id == .number(7) && task.items[2].line == 4)
    }

    @Test("bad lines are reported with the file, the line and the reason")
    func errors() {
        let ok = #"{"id": "a", "context": "c", "choices": ["x", "y"], "label": 0}"#
        #expect(throws: EvaluationInputError.labelOutOfRange(file: "t.jsonl", line: 2, label: 2, choices: 2)) {
            try parse(ok + "\n" + #"{"context": "c", "choices": ["x", "y"], "label": 2}"#)
        }
        #expect(throws: EvaluationInputError.labelOutOfRange(file: "t.jsonl", line: 1, label: -1, choices: 2)) {
            try parse(#"{"context": "c", "choices": ["x", "y"], "label": -1}"#)
        }
        #expect(throws: EvaluationInputError.emptyChoices(file: "t.jsonl", line: 1)) {
            try parse(#"{"context": "c", "choices": [], "label": 0}"#)
        }
        #expect(throws: EvaluationInputError.emptyChoice(file: "t.jsonl", line: 1, index: 1)) {
            try parse(#"{"context": "c", "choices": ["x", ""], "label": 0}"#)
        }
        #expect(throws: EvaluationInputError.missingField(file: "t.jsonl", line: 1, field: "context")) {
            try parse(#"{"choices": ["x"], "label": 0}"#)
        }
        #expect(throws: EvaluationInputError.noItems(file: "t.jsonl")) { try parse("\n  \n") }
        for (line, reason) in [("{\"context\": \"c\", \"choices\": [\"x\"], \"label\": \"0\"}", "label: expected an integer"),
                               ("{\"context\": 3, \"choices\": [\"x\"], \"label\": 0}", "context: expected a string"),
                               ("{\"context\": \"c\", \"choices\": [\"x\", 2], \"label\": 0}", "choices[1]: expected a string"),
                               ("[1, 2]", "expected a JSON object"),
                               ("{\"context\": \"c\",", "not valid JSON")] {
            do {
                _ = try parse(ok + "\n" + ok + "\n" + line)
                Issue.record("\(line) parsed")
            } catch {
                guard case let .badLine(file, number, message) = error else {
                    Issue.record("\(line): \(error)")
                    continue
                }
                #expect(file == "t.jsonl" && number == 3)
                #expect(message.contains(reason), "\(message)")
                #expect(error.description.hasPrefix("t.jsonl:3: "))
            }
        }
    }

    @Test("a missing file, a directory and invalid UTF-8 are errors, not crashes")
    func unreadable() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kataribe-eval-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(throws: EvaluationInputError.self) { try MultipleChoiceTask.load(file: folder.appendingPathComponent("none.jsonl")) }
        #expect(throws: EvaluationInputError.self) { try MultipleChoiceTask.load(file: folder) }
        let binary = folder.appendingPathComponent("bad.jsonl")
        try Data([0xFF, 0xFE, 0x7B]).write(to: binary)
        #expect(throws: EvaluationInputError.notUTF8(file: binary.path)) { try MultipleChoiceTask.load(file: binary) }
    }
}

/// Σ log_softmax(logits[i])[whole[i + 1]] over the continuation, from one full forward pass over
/// `whole` with the model's plain `logits(for:)` — what the scorer must agree with.
private func independentLoglik(_ model: any CausalLanguageModel, whole: [Int], continuation: Int) throws -> Double {
    let logits = try model.logits(for: Array(whole.dropLast()))
    var total = 0.0
    for position in (whole.count - continuation)..<whole.count {
        total += logits[position - 1].withUnsafeBufferPointer { VectorOps.logSoftmax($0, at: whole[position]) }
    }
    return total
}

@Suite("lm-eval scoring on the tiny calm model", .timeLimit(.minutes(2)))
struct EvaluationEndToEndTests {
    @Test("each choice's loglik equals an independent sum over the model's logits")
    func multipleChoice() throws {
        let loaded = try Fixtures.calm(threads: 1)
        let tokenizer = loaded.tokenizer
        let items = [
            MultipleChoiceItem(id: .string("plain"), context: "質問：雨の日に持つものは？\n答え：", choices: ["傘", "鍋", "自転車"],
                               label: 0),
            MultipleChoiceItem(id: .string("space"), context: "今日の天気は ", choices: ["晴れ", "雨です"], label: 1),
            MultipleChoiceItem(id: .string("delimiter"), context: "猫は", choices: ["かわいい", "鳴く"], label: 0, delimiter: "\n"),
            MultipleChoiceItem(id: .string("empty"), context: "", choices: ["吾輩は猫である", "東京"], label: 0),
        ]
        let task = MultipleChoiceTask(name: "mini", items: items)
        let evaluator = try MultipleChoiceEvaluator(model: loaded)
        var updates: [Int] = []
        let report = try evaluator.evaluate(task, model: "tiny-calm") { done, total in
            #expect(total == 9)
            updates.append(done)
        }
        #expect(updates == Array(0...9))
        #expect(report.n == 4 && report.task == "mini" && report.model == "tiny-calm" && report.maxLength == 128)

        let bos = try #require(tokenizer.specialTokens.bos)
        for (item, result) in zip(items, report.items) {
            #expect(result.logliks.count == item.choices.count)
            for (index, choice) in item.choices.enumerated() {
                // Built here from the tokenizer directly, not through RequestEncoder.
                var context = item.context
                var continuation = item.delimiter + choice
                while let last = context.unicodeScalars.last, last.properties.isWhitespace {
                    context.unicodeScalars.removeLast()
                    continuation = String(last) + continuation
                }
                let whole: [Int], count: Int
                if context.isEmpty {
                    let tokens = tokenizer.encode(continuation, addSpecialTokens: false)
                    whole = tokens.first == bos ? tokens : [bos] + tokens
                    count = tokens.first == bos ? tokens.count - 1 : tokens.count
                } else {
                    let contextTokens = tokenizer.encode(context, addSpecialTokens: false)
                    whole = tokenizer.encode(context + continuation, addSpecialTokens: false)
                    count = whole.count - contextTokens.count
                }
                let expected = try independentLoglik(loaded.model, whole: whole, continuation: count)
                #expect(abs(result.logliks[index] - expected) < 1e-4, "\(item.id) choice \(index): \(result.logliks[index]) vs \(expected)")
            }
            #expect(result.pred == MultipleChoiceMetrics.argmax(result.logliks))
        }
    }

    @Test("a whitespace-only context or a choice that merges into its context is an error naming the item")
    func refusedItems() throws {
        let loaded = try Fixtures.calm(threads: 1)
        let evaluator = MultipleChoiceEvaluator(encoder: toyEncoder(), scorer: try LoglikelihoodScorer(model: loaded.model, maxLength: 2))
        #expect(throws: EvaluationError.emptyContext(item: "w")) {
            try evaluator.requests(for: MultipleChoiceItem(id: .string("w"), context: " \n", choices: ["a"], label: 0))
        }
        // "a" + "b" is the single token "ab": nothing is left of the continuation.
        #expect(throws: EvaluationError.emptyContinuation(item: "7", choice: 1)) {
            try evaluator.requests(for: MultipleChoiceItem(id: .number(7), context: "a", choices: ["c", "b"], label: 0))
        }
        #expect(throws: EvaluationError.continuationTooLong(item: "l", choice: 0, tokens: 3, maxLength: 2)) {
            try evaluator.requests(for: MultipleChoiceItem(id: .string("l"), context: "c", choices: ["cac"], label: 0))
        }
    }

    @Test("is_greedy is true exactly when greedy decoding produces the continuation")
    func greedy() throws {
        let loaded = try Fixtures.calm(threads: 1)
        let context = loaded.tokenizer.encode("吾輩は猫である。", addSpecialTokens: false)
        let session = loaded.model.makeSession()
        var logits = try session.append(context)
        var generated: [Int] = []
        for _ in 0..<3 {
            let next = logits.indices.max { logits[$0] < logits[$1] || (logits[$0] == logits[$1] && $0 > $1) }!
            generated.append(next)
            logits = try session.append([next])
        }
        let scorer = try LoglikelihoodScorer(model: loaded.model)
        #expect(try scorer.score(TokenRequest(context: context, continuation: generated)).isGreedy)
        var other = generated
        other[1] = (other[1] + 1) % loaded.model.vocabularySize
        #expect(try !scorer.score(TokenRequest(context: context, continuation: other)).isGreedy)
    }

    @Test("a context longer than max length loses its start, as lm-eval's hf model truncates")
    func truncation() throws {
        let loaded = try Fixtures.calm(threads: 1)
        let tokens = loaded.tokenizer.encode(String(repeating: "吾輩は猫である。名前はまだ無い。", count: 3), addSpecialTokens: false)
        let request = TokenRequest(context: Array(tokens.dropLast(3)), continuation: Array(tokens.suffix(3)))
        let scorer = try LoglikelihoodScorer(model: loaded.model, maxLength: 10)
        let expected = try independentLoglik(loaded.model, whole: Array(tokens.suffix(11)), continuation: 3)
        #expect(abs(try scorer.score(request).loglikelihood - expected) < 1e-4)
        #expect(throws: LoglikelihoodScorer.Refusal.continuationTooLong(tokens: 11)) {
            try scorer.score(TokenRequest(context: [1], continuation: Array(tokens.prefix(11))))
        }
        #expect(throws: EvaluationError.invalidMaxLength(requested: 129, contextLength: 128)) {
            try LoglikelihoodScorer(model: loaded.model, maxLength: 129)
        }
    }

    @Test("perplexity: one window equals an independent sum; several windows cover every token once")
    func perplexity() throws {
        let loaded = try Fixtures.calm(threads: 1)
        let bos = try #require(loaded.tokenizer.specialTokens.bos)
        let text = "吾輩は猫である。名前はまだ無い。どこで生れたか とんと見当がつかぬ。"
        let tokens = loaded.tokenizer.encode(text, addSpecialTokens: false)
        #expect(tokens.count < 128)
        let single = try PerplexityEvaluator(model: loaded).evaluate(text: text, file: "t.txt", model: "tiny")
        let expected = try independentLoglik(loaded.model, whole: [bos] + tokens, continuation: tokens.count)
        #expect(single.windows == 1 && single.tokens == tokens.count)
        #expect(abs(single.loglikelihood - expected) < 1e-4)
        #expect(single.words == 2 && single.bytes == text.utf8.count)
        #expect(abs(single.tokenPerplexity - exp(-expected / Double(tokens.count))) < 1e-6 * single.tokenPerplexity)
        #expect(abs(single.bitsPerByte - (-expected / Double(text.utf8.count) / log(2))) < 1e-6)

        // max length 16: windows of 16 predictions, each after one token of context but the last.
        var updates = 0
        let rolled = try PerplexityEvaluator(model: loaded, maxLength: 16).evaluate(text: text, file: "t.txt", model: "tiny") { _, _ in
            updates += 1
        }
        var independent = 0.0
        var start = 0
        while start < tokens.count {
            let end = min(start + 16, tokens.count)
            // The last window re-reads as much earlier text as fits (lm-eval's longer final context).
            let contextStart = start == 0 ? 0 : max(0, end - 17)
            let whole = start == 0 ? [bos] + tokens[..<end] : Array(tokens[contextStart..<end])
            independent += try independentLoglik(loaded.model, whole: Array(whole), continuation: end - start)
            start = end
        }
        #expect(rolled.windows == (tokens.count + 15) / 16 && updates == rolled.windows + 1)
        #expect(abs(rolled.loglikelihood - independent) < 1e-4)
    }
}

