/// transformers' `MinNewTokensLengthLogitsProcessor`: while fewer than `minNewTokens` tokens have
/// been generated after the prompt, every eos id gets -inf. (transformers only adds it when an eos
/// id is known and `min_new_tokens > 0`.)
public struct MinNewTokensProcessor: LogitsProcessor {
    public let minNewTokens: Int
    public let eosTokenIds: [Int]
    public var transformersName: String { "MinNewTokensLengthLogitsProcessor" }

    public init(minNewTokens: Int, eosTokenIds: [Int]) {
        self.minNewTokens = minNewTokens
        self.eosTokenIds = eosTokenIds
    }

    public func process(_ scores: UnsafeMutableBufferPointer<Float>, history: TokenHistory, workspace: LogitsWorkspace) {
        guard history.generatedCount < minNewTokens else { return }
        for id in eosTokenIds where id >= 0 && id < scores.count { scores[id] = -.infinity }
    }
}
