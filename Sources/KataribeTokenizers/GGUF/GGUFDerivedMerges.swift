/// transformers' `generate_merges(vocab, vocab_scores)` (tokenization_utils_base.py), for GGUF
/// SentencePiece vocabularies that list no merges: every way of cutting a token in two whose halves
/// are both in the vocabulary is a merge, ranked by the token's score (best first), then by the
/// longer left half, then the longer right half; ties keep the order of the tokens in the file.
///
/// Python sorts with `reverse=True`, which stays stable, so equal keys keep the order the loop
/// produced them in: tokens in first-occurrence order, and within a token one cut per left-half
/// length, so (score, left length, right length, token order) is a total order.
enum GGUFDerivedMerges {
    struct Merge {
        let left: Int32
        let right: Int32
    }

    /// - Parameters:
    ///   - tokens: the vocabulary in file order (already respelled where the conversion does that).
    ///   - vocabulary: each distinct token to its id (the last index of a token the file repeats,
    ///     as a Python dict built in file order keeps).
    ///   - score: the sort score of the token at a file index (transformers' `vocab_scores` holds the
    ///     last value of a repeated token; callers pass that).
    /// - Returns: the merges best first, as ids of the two halves.
    static func derive(tokens: [[UInt8]], vocabulary: BytesMap, score: (Int) -> Float) -> [Merge] {
        struct Candidate {
            let score: Float
            let leftLength: Int32
            let rightLength: Int32
            let order: Int32
            let left: Int32
            let right: Int32
        }
        var candidates: [Candidate] = []
        candidates.reserveCapacity(tokens.count * 2)
        var seen = BytesMap(capacity: tokens.count)
        for (index, token) in tokens.enumerated() {
            // A dict iterates each key once, at its first position.
            guard seen.set(token, 1) == nil, let id = vocabulary[token] else { continue }
            let tokenScore = score(Int(id))
            token.withUnsafeBufferPointer { buffer in
                let scalarCount = countScalars(buffer)
                guard scalarCount > 1 else { return }
                var offset = UTF8Bytes.sequenceLength(lead: buffer[0])
                var leftLength: Int32 = 1
                while offset < buffer.count {
                    let left = UnsafeBufferPointer(rebasing: buffer[0..<offset])
                    let right = UnsafeBufferPointer(rebasing: buffer[offset...])
                    if let leftID = vocabulary.get(left), let rightID = vocabulary.get(right) {
                        candidates.append(Candidate(score: tokenScore, leftLength: leftLength,
                                                    rightLength: Int32(scalarCount) - leftLength,
                                                    order: Int32(index), left: leftID, right: rightID))
                    }
                    offset += UTF8Bytes.sequenceLength(lead: buffer[offset])
                    leftLength += 1
                }
            }
        }
        candidates.sort { a, b in
            if a.score != b.score { return a.score > b.score }
            if a.leftLength != b.leftLength { return a.leftLength > b.leftLength }
            if a.rightLength != b.rightLength { return a.rightLength > b.rightLength }
            return a.order < b.order
        }
        return candidates.map { Merge(left: $0.left, right: $0.right) }
    }

    private static func countScalars(_ buffer: UnsafeBufferPointer<UInt8>) -> Int {
        var count = 0
        for byte in buffer where byte & 0xC0 != 0x80 { count += 1 }
        return count
    }
}
