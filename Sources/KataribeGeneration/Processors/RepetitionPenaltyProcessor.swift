/// transformers' `RepetitionPenaltyLogitsProcessor`: every distinct id in the history (prompt and
/// generated) is penalised once: a negative score is multiplied by the penalty, any other divided.
/// Ids outside the score vector (embedding vocab larger than the head) are ignored, as there.
public struct RepetitionPenaltyProcessor: LogitsProcessor {
    public let penalty: Float
    public var transformersName: String { "RepetitionPenaltyLogitsProcessor" }

    /// torch multiplies/divides an f32 tensor by the Python float rounded to f32, hence `Float(penalty)`.
    public init(penalty: Double) { self.penalty = Float(penalty) }

    public func process(_ scores: UnsafeMutableBufferPointer<Float>, history: TokenHistory, workspace: LogitsWorkspace) {
        workspace.beginMarking(vocabularySize: scores.count)
        for id in history.tokens where id >= 0 && id < scores.count && workspace.mark(id) {
            let s = scores[id]
            scores[id] = s < 0 ? s * penalty : s / penalty
        }
    }
}
