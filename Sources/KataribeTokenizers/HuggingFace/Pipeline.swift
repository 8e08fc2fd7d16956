/// The stages of a `tokenizer.json` pipeline, mirroring the Rust `tokenizers` crate:
/// normalizer -> pre-tokenizer -> model -> post-processor, and a decoder for the way back.
/// Text travels as UTF-8 bytes; nothing here works on `Character`s.

/// The text of one split while it is normalized.
struct NormalizedText {
    var bytes: [UInt8]
    /// Whether the first byte still corresponds to the start of the original input (used by
    /// `Metaspace` with `prepend_scheme: first`; normalizers that delete leading text clear it).
    var atOriginalStart: Bool
}

protocol HFNormalizer: Sendable {
    func normalize(_ text: inout NormalizedText)
}

/// The pre-tokenized splits of one text segment: ranges into one shared buffer.
struct SplitList {
    struct Split {
        var start: Int
        var end: Int
        var atOriginalStart: Bool
    }

    var buffer: [UInt8]
    var splits: [Split]
    /// When true the bytes are raw and the model must read them through the byte-level alphabet
    /// (`ByteLevel` pre-tokenizer); the mapping is applied lazily so the hot path never builds it.
    var byteLevel = false

    init(text: NormalizedText) {
        buffer = text.bytes
        splits = text.bytes.isEmpty ? [] : [Split(start: 0, end: text.bytes.count, atOriginalStart: text.atOriginalStart)]
    }

    /// Replaces each split by the sub-ranges `body` returns (relative to the split), dropping empty
    /// ones, as `PreTokenizedString::split` does.
    mutating func refine(_ body: (ArraySlice<UInt8>) -> [Range<Int>]) {
        var refined: [Split] = []
        refined.reserveCapacity(splits.count)
        for split in splits {
            for range in body(buffer[split.start..<split.end]) where !range.isEmpty {
                refined.append(Split(start: split.start + range.lowerBound, end: split.start + range.upperBound,
                                     atOriginalStart: split.atOriginalStart && range.lowerBound == 0))
            }
        }
        splits = refined
    }

    /// Rewrites every split's bytes (the result may then be split further by `refine`).
    mutating func rewrite(_ body: (ArraySlice<UInt8>, Bool) -> [UInt8]) {
        var newBuffer: [UInt8] = []
        newBuffer.reserveCapacity(buffer.count + splits.count * 3)
        var newSplits: [Split] = []
        newSplits.reserveCapacity(splits.count)
        for split in splits {
            let start = newBuffer.count
            newBuffer.append(contentsOf: body(buffer[split.start..<split.end], split.atOriginalStart))
            if newBuffer.count > start {
                newSplits.append(Split(start: start, end: newBuffer.count, atOriginalStart: split.atOriginalStart))
            }
        }
        buffer = newBuffer
        splits = newSplits
    }

    /// Applies the byte-level alphabet to the bytes now (needed when a later stage reads text).
    mutating func materializeByteLevel() {
        guard byteLevel else { return }
        byteLevel = false
        rewrite { bytes, _ in ByteLevelAlphabet.encode(bytes) }
    }
}

protocol HFPreTokenizer: Sendable {
    func preTokenize(_ splits: inout SplitList)
}

/// What encoding produces: ids and, on request, the pieces `tokenizers` reports as `tokens`.
struct EncodingOutput {
    var ids: [Int] = []
    var pieces: [String] = []
    let collectPieces: Bool

    init(collectPieces: Bool) { self.collectPieces = collectPieces }

    @inline(__always)
    mutating func append(_ id: Int, piece: @autoclosure () -> String) {
        ids.append(id)
        if collectPieces { pieces.append(piece()) }
    }
}

protocol HFModel: Sendable {
    func tokenize(_ splits: SplitList, into output: inout EncodingOutput)
    func tokenToID(_ token: [UInt8]) -> Int?
    func idToToken(_ id: Int) -> [UInt8]?
    /// `get_vocab_size()`: the number of entries (not the largest id).
    var vocabularyCount: Int { get }
}

protocol HFPostProcessor: Sendable {
    func process(_ output: inout EncodingOutput, addSpecialTokens: Bool)
}

protocol HFDecoder: Sendable {
    /// `decode_chain`: tokens in, transformed tokens out (their concatenation is the text).
    func decodeChain(_ tokens: [[UInt8]]) -> [[UInt8]]
}
