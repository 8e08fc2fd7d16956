import Foundation

/// lm-eval's multiple-choice metrics (lm_eval/api/task.py, `ConfigurableTask.process_results` for
/// `output_type: multiple_choice`, and the `mean_stderr` aggregation of lm_eval/api/metrics.py).
public enum MultipleChoiceMetrics {
    /// `np.argmax`: the first index of the largest value; a NaN counts as the largest.
    public static func argmax(_ values: [Double]) -> Int {
        var best = 0
        for i in values.indices {
            if values[i].isNaN { return i }
            if values[i] > values[best] { best = i }
        }
        return best
    }

    /// `acc`'s prediction: the most likely choice.
    public static func prediction(logliks: [Double]) -> Int { argmax(logliks) }

    /// `acc_norm`'s prediction: the most likely choice per character of the choice string itself —
    /// `len(choice)` for `choice in doc_to_choice(doc)`, so without the target delimiter, counted in
    /// Unicode scalars as Python's `len` counts.
    public static func normalizedPrediction(logliks: [Double], choices: [String]) -> Int {
        argmax(zip(logliks, choices).map { $0 / Double(PythonText.length($1)) })
    }

    /// The mean of 0/1 scores.
    public static func mean(_ values: [Double]) -> Double {
        values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count)
    }

    /// lm-eval's `mean_stderr`: the sample standard deviation (n - 1) over √n; nil below two items,
    /// where lm-eval reports "N/A".
    public static func meanStandardError(_ values: [Double]) -> Double? {
        guard values.count > 1 else { return nil }
        let mu = mean(values)
        let variance = values.reduce(0) { $0 + ($1 - mu) * ($1 - mu) } / Double(values.count - 1)
        return variance.squareRoot() / Double(values.count).squareRoot()
    }
}

/// One item's scores.
public struct MultipleChoiceItemResult: Codable, Sendable, Equatable {
    public var id: EvaluationItemID
    /// One per choice, in the file's order.
    public var logliks: [Double]
    /// Per choice: greedy decoding after the context would produce exactly this continuation.
    public var isGreedy: [Bool]
    /// The `acc` prediction.
    public var pred: Int
    /// The `acc_norm` prediction.
    public var predNorm: Int
    public var label: Int

    public init(id: EvaluationItemID, logliks: [Double], isGreedy: [Bool], choices: [String], label: Int) {
        self.id = id
        self.logliks = logliks
        self.isGreedy = isGreedy
        pred = MultipleChoiceMetrics.prediction(logliks: logliks)
        predNorm = MultipleChoiceMetrics.normalizedPrediction(logliks: logliks, choices: choices)
        self.label = label
    }

    enum CodingKeys: String, CodingKey {
        case id, logliks, pred, label
        case isGreedy = "is_greedy", predNorm = "pred_norm"
    }
}

/// A task scored with one model: what `kataribe eval --task --json` prints for it.
public struct MultipleChoiceReport: Codable, Sendable, Equatable {
    public var task: String
    public var model: String
    public var n: Int
    public var acc: Double
    public var accNorm: Double
    public var accStderr: Double?
    public var accNormStderr: Double?
    /// The settings the scores depend on, so a reader can reproduce them with lm-eval.
    public var maxLength: Int
    public var addSpecialTokens: Bool
    public var items: [MultipleChoiceItemResult]

    public init(task: String, model: String, maxLength: Int, addSpecialTokens: Bool, items: [MultipleChoiceItemResult]) {
        self.task = task
        self.model = model
        self.maxLength = maxLength
        self.addSpecialTokens = addSpecialTokens
        self.items = items
        n = items.count
        let correct = items.map { $0.pred == $0.label ? 1.0 : 0.0 }
        let correctNorm = items.map { $0.predNorm == $0.label ? 1.0 : 0.0 }
        acc = MultipleChoiceMetrics.mean(correct)
        accNorm = MultipleChoiceMetrics.mean(correctNorm)
        accStderr = MultipleChoiceMetrics.meanStandardError(correct)
        accNormStderr = MultipleChoiceMetrics.meanStandardError(correctNorm)
    }

    enum CodingKeys: String, CodingKey {
        case task, model, n, acc, items
        case accNorm = "acc_norm", accStderr = "acc_stderr", accNormStderr = "acc_norm_stderr"
        case maxLength = "max_length", addSpecialTokens = "add_special_tokens"
    }
}
