import KataribeHub

/// Per-sample seeds, derived so that a rerun (or a run of only some models or prompts) reproduces the
/// same text for the same sample:
///
///     seed = big-endian UInt64 of the first 8 bytes of
///            SHA-256("kataribe-compare-seed-v1\n{suite seed}\n{model label}\n{prompt id}\n{sample index}")
///            masked to its low 53 bits
///
/// with the 0-based sample index. 53 bits keep every seed exact in JSON readers that use doubles
/// (JavaScript) and inside the signed 64-bit range OpenAI-compatible servers accept.
public enum SampleSeeds {
    public static let mask: UInt64 = (1 << 53) - 1

    public static func seed(suiteSeed: UInt64, modelLabel: String, promptID: String, sampleIndex: Int) -> UInt64 {
        let material = "kataribe-compare-seed-v1\n\(suiteSeed)\n\(modelLabel)\n\(promptID)\n\(sampleIndex)"
        var hasher = SHA256()
        hasher.update(Array(material.utf8))
        let digest = hasher.finalize()
        let value = digest.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return value & mask
    }
}
