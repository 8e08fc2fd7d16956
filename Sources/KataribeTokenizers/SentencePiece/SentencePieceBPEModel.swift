/// sentencepiece's BPE model: start from characters (user-defined symbols stay whole and frozen),
/// repeatedly merge the adjacent pair whose concatenation is the highest-scoring piece (leftmost on
/// ties), then split pieces of type UNUSED back into the pairs they were merged from.
struct SentencePieceBPEModel: Sendable {
    /// Normal, user-defined and unused pieces.
    private let pieceIDs: BytesMap
    private let scores: [Float]
    private let types: [SentencePieceModelProto.PieceType]
    private let userDefinedSymbols: DoubleArrayTrie?
    /// Control, unknown and byte pieces, looked up first by `PieceToId`.
    private let reservedIDs: BytesMap
    private let unknownID: Int32

    init(pieces: [SentencePieceModelProto.Piece], unknownID: Int, userDefinedSymbols: DoubleArrayTrie?) {
        var normal = BytesMap(capacity: pieces.count)
        var reserved = BytesMap(capacity: 300)
        for (id, piece) in pieces.enumerated() {
            switch piece.type {
            case .normal, .userDefined, .unused: normal.set(piece.piece, Int32(id))
            default: reserved.set(piece.piece, Int32(id))
            }
        }
        pieceIDs = normal
        reservedIDs = reserved
        scores = pieces.map(\.score)
        types = pieces.map(\.type)
        self.userDefinedSymbols = userDefinedSymbols
        self.unknownID = Int32(unknownID)
    }

    private struct Symbol {
        var previous: Int
        var next: Int
        var frozen: Bool
        var start: Int
        var length: Int
    }

    /// A candidate merge: higher score first, then the leftmost.
    private struct Candidate {
        var left: Int
        var right: Int
        var score: Float
        var size: Int

        func outranks(_ other: Candidate) -> Bool {
            score > other.score || (score == other.score && left < other.left)
        }
    }

    private func pieceID(_ text: UnsafeBufferPointer<UInt8>, _ start: Int, _ length: Int) -> Int32? {
        pieceIDs.get(UnsafeBufferPointer(rebasing: text[start..<(start + length)]))
    }

    /// `PieceToId`: reserved pieces first, then normal ones, else the unknown id.
    private func pieceToID(_ text: UnsafeBufferPointer<UInt8>, _ start: Int, _ length: Int) -> Int32 {
        let key = UnsafeBufferPointer(rebasing: text[start..<(start + length)])
        return reservedIDs.get(key) ?? pieceIDs.get(key) ?? unknownID
    }

    func encode(_ normalized: UnsafeBufferPointer<UInt8>, into result: inout [(start: Int, end: Int, id: Int32)]) {
        guard !normalized.isEmpty else { return }
        var symbols: [Symbol] = []
        symbols.reserveCapacity(normalized.count)
        var position = 0
        while position < normalized.count {
            var length = min(UTF8Bytes.sequenceLength(lead: normalized[position]), normalized.count - position)
            var frozen = false
            if let userDefinedSymbols, let (matched, _) = userDefinedSymbols.longestPrefix(of: normalized, from: position) {
                length = matched
                frozen = true
            }
            let index = symbols.count
            symbols.append(Symbol(previous: index - 1, next: position + length < normalized.count ? index + 1 : -1,
                                  frozen: frozen, start: position, length: length))
            position += length
        }

        // Pieces of type UNUSED created by a merge, remembered (by content, later merges winning)
        // so they can be split again.
        var reverseMerges: [[UInt8]: (left: [UInt8], right: [UInt8])] = [:]
        var heap: [Candidate] = []

        func addCandidate(_ left: Int, _ right: Int) {
            guard left >= 0, right >= 0, !symbols[left].frozen, !symbols[right].frozen else { return }
            let start = symbols[left].start
            let size = symbols[left].length + symbols[right].length
            guard let id = pieceID(normalized, start, size) else { return }
            push(Candidate(left: left, right: right, score: scores[Int(id)], size: size))
            if types[Int(id)] == .unused {
                let leftPiece = Array(normalized[start..<(start + symbols[left].length)])
                let rightPiece = Array(normalized[symbols[right].start..<(symbols[right].start + symbols[right].length)])
                reverseMerges[leftPiece + rightPiece] = (leftPiece, rightPiece)
            }
        }

        func push(_ candidate: Candidate) {
            heap.append(candidate)
            var child = heap.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                guard heap[child].outranks(heap[parent]) else { break }
                heap.swapAt(child, parent)
                child = parent
            }
        }

        func pop() -> Candidate {
            let top = heap[0]
            let last = heap.removeLast()
            if !heap.isEmpty {
                heap[0] = last
                var parent = 0
                while true {
                    let left = 2 * parent + 1, right = left + 1
                    var best = parent
                    if left < heap.count && heap[left].outranks(heap[best]) { best = left }
                    if right < heap.count && heap[right].outranks(heap[best]) { best = right }
                    if best == parent { break }
                    heap.swapAt(parent, best)
                    parent = best
                }
            }
            return top
        }

        for i in 1..<max(symbols.count, 1) { addCandidate(i - 1, i) }

        while !heap.isEmpty {
            let top = pop()
            let left = symbols[top.left], right = symbols[top.right]
            // Stale: one side was merged away or grew since the candidate was made.
            if left.length == 0 || right.length == 0 || left.length + right.length != top.size { continue }
            symbols[top.left].length += right.length
            symbols[top.left].next = right.next
            if right.next >= 0 { symbols[right.next].previous = top.left }
            symbols[top.right].length = 0
            addCandidate(symbols[top.left].previous, top.left)
            addCandidate(top.left, symbols[top.left].next)
        }

        func resegment(_ piece: [UInt8], at start: Int) {
            let id = piece.withUnsafeBufferPointer { pieceToID($0, 0, piece.count) }
            guard types[Int(id)] == .unused, let split = reverseMerges[piece] else {
                result.append((start, start + piece.count, id))
                return
            }
            resegment(split.left, at: start)
            resegment(split.right, at: start + split.left.count)
        }

        var index = 0
        while index >= 0 && index < symbols.count {
            let symbol = symbols[index]
            let id = pieceToID(normalized, symbol.start, symbol.length)
            if types[Int(id)] == .unused {
                resegment(Array(normalized[symbol.start..<(symbol.start + symbol.length)]), at: symbol.start)
            } else {
                result.append((symbol.start, symbol.start + symbol.length, id))
            }
            index = symbol.next
        }
    }
}
