/// Scores every choice of every item of a task with one model, as lm-eval scores a
/// `multiple_choice` task: one loglikelihood request per choice, then `acc` and `acc_norm`.
public struct MultipleChoiceEvaluator: ScoringEvaluator {
    public let setup: ScoringSetup

    public init(setup: ScoringSetup) { self.setup = setup }

    /// The item's requests in choice order, checked as the scorer will check them, so that a
    /// task with a bad item fails before any model time is spent.
    public func requests(for item: MultipleChoiceItem) throws(EvaluationError) -> [TokenRequest] {
        var requests: [TokenRequest] = []
        for (index, continuation) in item.continuations.enumerated() {
            let request = try encoder.request(context: item.context, continuation: continuation)
            if request.context.isEmpty { throw .emptyContext(item: item.id.description) }
            if request.continuation.isEmpty { throw .emptyContinuation(item: item.id.description, choice: index) }
            if request.continuation.count > scorer.maxLength {
                throw .continuationTooLong(item: item.id.description, choice: index, tokens: request.continuation.count,
                                           maxLength: scorer.maxLength)
            }
            requests.append(request)
        }
        return requests
    }

    /// `progress(done, total)` is called once before scoring starts and after each scored request
    /// (one per choice).
    public func evaluate(_ task: MultipleChoiceTask, model name: String,
                         progress: (_ done: Int, _ total: Int) -> Void = { _, _ in }) throws(EvaluationError) -> MultipleChoiceReport {
        var encoded: [[TokenRequest]] = []
        for item in task.items { encoded.append(try requests(for: item)) }
        let total = encoded.reduce(0) { $0 + $1.count }
        var done = 0
        progress(done, total)
        var results: [MultipleChoiceItemResult] = []
        for (item, requests) in zip(task.items, encoded) {
            var logliks: [Double] = [], greedy: [Bool] = []
            for (index, request) in requests.enumerated() {
                let result: LoglikelihoodResult
                do {
                    result = try scorer.score(request)
                } catch {
                    throw Self.error(error, item: item, choice: index, maxLength: scorer.maxLength)
                }
                logliks.append(result.loglikelihood)
                greedy.append(result.isGreedy)
                done += 1
                progress(done, total)
            }
            results.append(MultipleChoiceItemResult(id: item.id, logliks: logliks, isGreedy: greedy, choices: item.choices,
                                                    label: item.label))
        }
        return MultipleChoiceReport(task: task.name, model: name, maxLength: scorer.maxLength, addSpecialTokens: addSpecialTokens,
                                    items: results)
    }

    private static func error(_ refusal: LoglikelihoodScorer.Refusal, item: MultipleChoiceItem, choice: Int,
                              maxLength: Int) -> EvaluationError {
        switch refusal {
        case .emptyContext: .emptyContext(item: item.id.description)
        case .emptyContinuation: .emptyContinuation(item: item.id.description, choice: choice)
        case .continuationTooLong(let tokens):
            .continuationTooLong(item: item.id.description, choice: choice, tokens: tokens, maxLength: maxLength)
        case .model(let error): .model(error)
        }
    }
}
