/// `Unigram` as implemented by `tokenizers` (`encode_optimized`): Viterbi in f64 over every vocabulary
/// entry (special ones included), unknown characters scored `min_score - 10` and fused, then
/// looked up again and split into `<0xXX>` tokens with `byte_fallback`.
struct UnigramModel: HFModel {
    let vocabulary: BytesMap
    let tokens: [[UInt8]]
    let tokenStrings: [String]
    let scores: [Double]
    let trie: DoubleArrayTrie
    let unknownID: Int?
    let byteFallback: Bool
    let minScore: Double
    let byteFallbackIDs: [Int32]

    init(entries: [(token: [UInt8], score: Double)], unknownID: Int?, byteFallback: Bool) {
        var vocabulary = BytesMap(capacity: entries.count)
        var minScore = Double.infinity
        for (id, entry) in entries.enumerated() {
            vocabulary.set(entry.token, Int32(id))
            minScore = min(minScore, entry.score)
        }
        // Later duplicates win in the map, as in the Rust HashMap insert; the trie needs unique keys.
        var keys: [[UInt8]] = []
        var values: [Int32] = []
        var seen = BytesMap(capacity: entries.count)
        for entry in entries where seen.set(entry.token, 0) == nil {
            keys.append(entry.token)
            values.append(vocabulary[entry.token] ?? 0)
        }
        self.vocabulary = vocabulary
        tokens = entries.map(\.token)
        tokenStrings = entries.map { UTF8Bytes.string($0.token) }
        scores = entries.map(\.score)
        trie = DoubleArrayTrie(keys: keys.filter { !$0.isEmpty }, values: zip(keys, values).filter { !$0.0.isEmpty }.map(\.1))
        self.unknownID = unknownID
        self.byteFallback = byteFallback
        self.minScore = minScore
        byteFallbackIDs = (0..<256).map { byte in
            vocabulary[byteFallbackPiece(UInt8(byte))] ?? -1
        }
    }

    var vocabularyCount: Int { tokens.count }
    func tokenToID(_ token: [UInt8]) -> Int? { vocabulary[token].map(Int.init) }
    func idToToken(_ id: Int) -> [UInt8]? { id >= 0 && id < tokens.count ? tokens[id] : nil }

    func tokenize(_ splits: SplitList, into output: inout EncodingOutput) {
        var text = splits
        text.materializeByteLevel()
        text.buffer.withUnsafeBufferPointer { buffer in
            for split in text.splits {
                encode(UnsafeBufferPointer(rebasing: buffer[split.start..<split.end]), into: &output)
            }
        }
    }

    private func encode(_ sentence: UnsafeBufferPointer<UInt8>, into output: inout EncodingOutput) {
        let size = sentence.count
        guard size > 0 else { return }
        let unknownScore = minScore - 10
        var bestScore = [Double](repeating: 0, count: size + 1)
        var startsAt = [Int](repeating: -1, count: size + 1)
        var bestID = [Int](repeating: 0, count: size + 1)
        var start = 0
        while start < size {
            let scoreHere = bestScore[start]
            var hasSingleNode = false
            let characterLength = UTF8Bytes.sequenceLength(lead: sentence[start])
            trie.forEachPrefix(of: sentence, from: start) { length, id in
                let end = start + length
                let candidate = scores[Int(id)] + scoreHere
                if startsAt[end] == -1 || candidate > bestScore[end] {
                    bestScore[end] = candidate
                    startsAt[end] = start
                    bestID[end] = Int(id)
                }
                if !hasSingleNode && length == characterLength { hasSingleNode = true }
            }
            if !hasSingleNode {
                let end = min(start + characterLength, size)
                let candidate = unknownScore + scoreHere
                if startsAt[end] == -1 || candidate > bestScore[end] {
                    bestScore[end] = candidate
                    startsAt[end] = start
                    // Without an unknown id `tokenizers` fails the encode; the character is dropped here.
                    bestID[end] = unknownID ?? -1
                }
            }
            start += characterLength
        }
        // Backtrack, fusing consecutive unknown pieces.
        var pieces: [Range<Int>] = []
        var end = size
        var fusedUnknownStart = -1
        var fusedUnknownEnd = -1
        while end > 0 {
            let pieceStart = startsAt[end]
            guard pieceStart >= 0, pieceStart < end else { break }
            let id = bestID[end]
            if unknownID != nil && id == unknownID {
                if fusedUnknownStart < 0 { fusedUnknownEnd = end }
                fusedUnknownStart = pieceStart
            } else {
                if fusedUnknownStart >= 0 {
                    pieces.append(fusedUnknownStart..<fusedUnknownEnd)
                    fusedUnknownStart = -1
                }
                if id >= 0 { pieces.append(pieceStart..<end) } else { pieces.append(pieceStart..<pieceStart) }
            }
            end = pieceStart
        }
        if fusedUnknownStart >= 0 { pieces.append(fusedUnknownStart..<fusedUnknownEnd) }
        for range in pieces.reversed() where !range.isEmpty {
            let piece = UnsafeBufferPointer(rebasing: sentence[range])
            if let id = vocabulary.get(piece) {
                output.append(Int(id), piece: UTF8Bytes.string(piece))
                continue
            }
            if byteFallback, piece.allSatisfy({ byteFallbackIDs[Int($0)] >= 0 }) {
                for byte in piece {
                    let id = Int(byteFallbackIDs[Int(byte)])
                    output.append(id, piece: tokenStrings[id])
                }
                continue
            }
            if let unknownID { output.append(unknownID, piece: UTF8Bytes.string(piece)) }
        }
    }
}
