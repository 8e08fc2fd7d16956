import Foundation

/// Checks every architecture's config makes, so a hostile or broken config.json is refused with
/// the key and the reason before anything is allocated from it.
enum ConfigChecks {
    /// Each (key, value, limit): positive and at most the limit.
    static func sizes(_ limits: [(String, Int, Int)], file: String) throws(ModelError) {
        for (key, value, limit) in limits {
            guard value > 0 else { throw .invalidConfigValue(file: file, key: key, reason: "must be positive, got \(value)") }
            guard value <= limit else {
                throw .invalidConfigValue(file: file, key: key, reason: "\(value) is implausibly large (limit \(limit))")
            }
        }
    }

    static func tokenIDs(_ ids: [Int], file: String) throws(ModelError) {
        for id in ids where id < 0 {
            throw .invalidConfigValue(file: file, key: "bos/eos/pad_token_id", reason: "negative token id \(id)")
        }
    }

    /// Weights in the smallest supported float dtype (2 bytes) must fit in memory.
    static func fitsInMemory(parameters: Int, file: String, availableMemory: Int) throws(ModelError) {
        let needed = parameters.multipliedReportingOverflow(by: 2)
        if needed.overflow || needed.partialValue > availableMemory {
            throw .modelTooLarge(file: file, neededBytes: needed.overflow ? Int.max : needed.partialValue, availableBytes: availableMemory)
        }
    }

    /// Grouped-query heads: kv heads divide query heads; rotary needs an even head size.
    static func heads(_ heads: Int, kvHeads: Int, headDim: Int, file: String) throws(ModelError) {
        guard heads % kvHeads == 0 else {
            throw .invalidConfigValue(file: file, key: "num_key_value_heads", reason: "\(kvHeads) does not divide num_attention_heads \(heads)")
        }
        guard headDim % 2 == 0 else { throw .invalidConfigValue(file: file, key: "head_dim", reason: "\(headDim) is odd; rotary needs pairs") }
    }

    /// A config's RoPE settings as frequencies, with errors naming the file.
    static func frequencies(_ settings: RopeSettings, dimensions: Int, maxPositions: Int, file: String) throws(ModelError) -> RopeFrequencies {
        do {
            return try RopeFrequencies(dimensions: dimensions, base: settings.ropeTheta ?? 10_000, settings: settings,
                                       maxPositions: maxPositions)
        } catch {
            switch error {
            case .unsupported(let kind): throw .unsupportedFeature(file: file, feature: "rope_type '\(kind)'")
            case .missing(let what, let kind): throw .invalidConfigValue(file: file, key: "rope_scaling", reason: "\(kind) needs \(what)")
            }
        }
    }
}
