/// sentencepiece's unigram model, `EncodeOptimized`: Viterbi over byte positions of the normalized
/// text, summing scores in float32 as the library does, so that ties break the same way.
struct SentencePieceUnigramModel: Sendable {
    private let trie: DoubleArrayTrie
    private let scores: [Float]
    private let types: [SentencePieceModelProto.PieceType]
    private let unknownID: Int32
    private let minScore: Float
    private let maxScore: Float

    static let unknownPenalty: Float = 10

    init(pieces: [SentencePieceModelProto.Piece], unknownID: Int) {
        var keys: [[UInt8]] = []
        var ids: [Int32] = []
        var minScore = Float.greatestFiniteMagnitude
        var maxScore = Float.leastNormalMagnitude  // FLT_MIN, as in the C++ code
        for (id, piece) in pieces.enumerated() {
            switch piece.type {
            case .normal, .userDefined, .unused:
                keys.append(piece.piece)
                ids.append(Int32(id))
            default:
                break
            }
            if piece.type == .normal {
                minScore = min(minScore, piece.score)
                maxScore = max(maxScore, piece.score)
            }
        }
        trie = DoubleArrayTrie(keys: keys, values: ids)
        scores = pieces.map(\.score)
        types = pieces.map(\.type)
        self.unknownID = Int32(unknownID)
        self.minScore = minScore
        self.maxScore = maxScore
    }

    /// Segments `normalized` into (start, end, id) pieces, in order.
    func encode(_ normalized: UnsafeBufferPointer<UInt8>, into result: inout [(start: Int, end: Int, id: Int32)]) {
        let size = normalized.count
        guard size > 0 else { return }
        let unknownScore = minScore - Self.unknownPenalty
        // Per end position: best score, start of the last piece (-1 = unreached), its id.
        var bestScore = [Float](repeating: 0, count: size + 1)
        var startsAt = [Int32](repeating: -1, count: size + 1)
        var bestID = [Int32](repeating: 0, count: size + 1)
        let maxScore = self.maxScore
        scores.withUnsafeBufferPointer { scores in
            types.withUnsafeBufferPointer { types in
                var start = 0
                while start < size {
                    let scoreHere = bestScore[start]
                    var hasSingleNode = false
                    let characterLength = min(UTF8Bytes.sequenceLength(lead: normalized[start]), size - start)
                    trie.forEachPrefix(of: normalized, from: start) { length, id in
                        let type = types[Int(id)]
                        if type == .unused { return }
                        let end = start + length
                        // User-defined symbols get a bonus so that they are always selected. The
                        // sums are float32: the library's tie-breaking depends on that rounding.
                        let score: Float = type == .userDefined ? Float(length) * maxScore - 0.1 : scores[Int(id)]
                        let candidate = score + scoreHere
                        if startsAt[end] == -1 || candidate > bestScore[end] {
                            bestScore[end] = candidate
                            startsAt[end] = Int32(start)
                            bestID[end] = id
                        }
                        if !hasSingleNode && length == characterLength { hasSingleNode = true }
                    }
                    if !hasSingleNode {
                        let end = start + characterLength
                        let candidate = unknownScore + scoreHere
                        if startsAt[end] == -1 || candidate > bestScore[end] {
                            bestScore[end] = candidate
                            startsAt[end] = Int32(start)
                            bestID[end] = unknownID
                        }
                    }
                    start += characterLength
                }
            }
        }
        let first = result.count
        var end = size
        while end > 0 {
            let start = Int(startsAt[end])
            guard start >= 0, start < end else { break }  // unreachable for well-formed input
            result.append((start, end, bestID[end]))
            end = start
        }
        result[first...].reverse()
    }
}
