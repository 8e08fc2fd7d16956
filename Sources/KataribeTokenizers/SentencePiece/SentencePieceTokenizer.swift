import Foundation
import KataribeSupport

/// A SentencePiece `.model` with the behaviour of the `sentencepiece` library (0.2.x):
/// `encode` is `SentencePieceProcessor.encode(text)` and `decode` is `decode(ids)`.
///
/// Encoding normalizes with the model's precompiled charsmap (nmt_nfkc, nfkc, identity or a custom
/// map), runs the unigram or BPE model, splits unknown pieces into `<0xXX>` byte pieces when the
/// model has byte fallback, and otherwise merges runs of unknown pieces into one, as the library does.
/// `addSpecialTokens` is ignored: a bare model has no template (`sp.encode` adds nothing by default).
public struct SentencePieceTokenizer: Tokenizer {
    enum Model: Sendable {
        case unigram(SentencePieceUnigramModel)
        case bpe(SentencePieceBPEModel)
    }

    let proto: SentencePieceModelProto
    private let model: Model
    private let normalizer: SentencePieceNormalizer
    private let denormalizer: SentencePieceNormalizer?
    /// Piece strings by id.
    let pieceStrings: [String]
    private let normalPieceIDs: BytesMap
    private let reservedPieceIDs: BytesMap
    let unknownID: Int
    /// The id of `<0xXX>` for each byte (when byte fallback is on).
    private let byteIDs: [Int]
    private let byteValues: [Int: UInt8]
    public let specialTokens: SpecialTokens

    /// Loads a `.model` file.
    public init(contentsOf url: URL) throws(TokenizerError) {
        let bytes = try readFile(url)
        try self.init(modelBytes: bytes, path: url.path)
    }

    /// Parses serialized `ModelProto` bytes; `path` names the source in errors.
    public init(modelBytes: [UInt8], path: String = "<memory>") throws(TokenizerError) {
        let proto: SentencePieceModelProto
        do {
            proto = try SentencePieceModelProto(bytes: modelBytes)
        } catch {
            throw TokenizerError.invalidProtobuf(path: path, offset: error.offset, reason: error.reason)
        }
        try self.init(proto: proto, path: path)
    }

    init(proto: SentencePieceModelProto, path: String) throws(TokenizerError) {
        self.proto = proto
        func invalid(_ reason: String) -> TokenizerError { .invalidModel(path: path, reason: reason) }
        guard !proto.pieces.isEmpty else { throw invalid("the model has no pieces") }

        // The checks of ModelInterface::InitializePieces.
        var normal = BytesMap(capacity: proto.pieces.count)
        var reserved = BytesMap(capacity: 300)
        var unknown: Int?
        var byteIDs = [Int](repeating: -1, count: 256)
        var byteValues: [Int: UInt8] = [:]
        var userDefined: [[UInt8]] = []
        var special = Set<Int>()
        for (id, piece) in proto.pieces.enumerated() {
            guard !piece.piece.isEmpty else { throw invalid("piece \(id) is empty") }
            let isNormal = piece.type == .normal || piece.type == .userDefined || piece.type == .unused
            let previous = isNormal ? normal.set(piece.piece, Int32(id)) : reserved.set(piece.piece, Int32(id))
            if previous != nil { throw invalid("piece \(UTF8Bytes.lossyString(piece.piece).debugDescription) is defined twice") }
            switch piece.type {
            case .userDefined:
                userDefined.append(piece.piece)
            case .unknown:
                guard unknown == nil else { throw invalid("more than one unknown piece") }
                unknown = id
                special.insert(id)
            case .control:
                special.insert(id)
            case .byte:
                guard proto.trainerSpec.byteFallback else {
                    throw invalid("byte piece \(UTF8Bytes.lossyString(piece.piece)) although byte_fallback is false")
                }
                guard let value = Self.byteValue(ofPiece: piece.piece) else {
                    throw invalid("invalid byte piece \(UTF8Bytes.lossyString(piece.piece).debugDescription)")
                }
                byteIDs[Int(value)] = id
                byteValues[id] = value
            default:
                break
            }
        }
        guard let unknown else { throw invalid("the model defines no unknown piece") }
        if proto.trainerSpec.byteFallback && byteIDs.contains(-1) {
            throw invalid("byte_fallback is set but not all 256 byte pieces exist")
        }
        let userDefinedTrie = userDefined.isEmpty ? nil
            : DoubleArrayTrie(keys: userDefined, values: [Int32](repeating: 0, count: userDefined.count))

        switch proto.trainerSpec.modelType {
        case .unigram:
            model = .unigram(SentencePieceUnigramModel(pieces: proto.pieces, unknownID: unknown))
        case .bpe:
            model = .bpe(SentencePieceBPEModel(pieces: proto.pieces, unknownID: unknown, userDefinedSymbols: userDefinedTrie))
        case .word:
            throw TokenizerError.unsupportedComponent(path: path, component: "SentencePiece model", type: "WORD")
        case .character:
            throw TokenizerError.unsupportedComponent(path: path, component: "SentencePiece model", type: "CHAR")
        }

        func makeNormalizer(_ spec: SentencePieceModelProto.NormalizerSpec, suffix: Bool, symbols: DoubleArrayTrie?) throws(TokenizerError) -> SentencePieceNormalizer {
            var charsMap: PrecompiledCharsMap?
            if !spec.precompiledCharsMap.isEmpty {
                do {
                    charsMap = try PrecompiledCharsMap(spec.precompiledCharsMap)
                } catch {
                    throw invalid("the precompiled charsmap is broken")
                }
            }
            return SentencePieceNormalizer(charsMap: charsMap, addDummyPrefix: spec.addDummyPrefix,
                                           removeExtraWhitespaces: spec.removeExtraWhitespaces,
                                           escapeWhitespaces: spec.escapeWhitespaces,
                                           treatWhitespaceAsSuffix: suffix, userDefinedSymbols: symbols)
        }
        normalizer = try makeNormalizer(proto.normalizerSpec, suffix: proto.trainerSpec.treatWhitespaceAsSuffix, symbols: userDefinedTrie)
        if let spec = proto.denormalizerSpec, !spec.precompiledCharsMap.isEmpty {
            denormalizer = try makeNormalizer(spec, suffix: false, symbols: nil)
        } else {
            denormalizer = nil
        }

        pieceStrings = proto.pieces.map { UTF8Bytes.lossyString($0.piece) }
        normalPieceIDs = normal
        reservedPieceIDs = reserved
        unknownID = unknown
        self.byteIDs = byteIDs
        self.byteValues = byteValues
        let count = proto.pieces.count
        func idIfValid(_ id: Int32) -> Int? { id >= 0 && Int(id) < count ? Int(id) : nil }
        specialTokens = SpecialTokens(bos: idIfValid(proto.trainerSpec.bosID), eos: idIfValid(proto.trainerSpec.eosID),
                                      pad: idIfValid(proto.trainerSpec.padID), unk: unknown, all: special)
    }

    /// `<0xXX>` with two upper-case hex digits, as `ByteToPiece` writes it.
    static func byteValue(ofPiece piece: [UInt8]) -> UInt8? {
        guard piece.count == 6, piece[0] == 0x3C, piece[1] == 0x30, piece[2] == 0x78, piece[5] == 0x3E else { return nil }
        func digit(_ byte: UInt8) -> UInt8? {
            switch byte {
            case 0x30...0x39: return byte - 0x30
            case 0x41...0x46: return byte - 0x41 + 10
            default: return nil
            }
        }
        guard let high = digit(piece[3]), let low = digit(piece[4]) else { return nil }
        return high << 4 | low
    }

    public var vocabularySize: Int { proto.pieces.count }

    /// The SentencePiece normalization of `text` (`SentencePieceProcessor.normalize`).
    public func normalize(_ text: String) -> String {
        var text = text
        return text.withUTF8 { UTF8Bytes.string(normalizer.normalize($0)) }
    }

    func pieceType(_ id: Int) -> SentencePieceModelProto.PieceType? {
        id >= 0 && id < proto.pieces.count ? proto.pieces[id].type : nil
    }

    /// `PieceToId`: reserved pieces first, then the others; unknown pieces give the unknown id.
    func pieceToID(_ piece: [UInt8]) -> Int {
        piece.withUnsafeBufferPointer { key in
            Int(reservedPieceIDs.get(key) ?? normalPieceIDs.get(key) ?? Int32(unknownID))
        }
    }

    public func tokenToID(_ token: String) -> Int? {
        let bytes = Array(token.utf8)
        return bytes.withUnsafeBufferPointer { key in
            (reservedPieceIDs.get(key) ?? normalPieceIDs.get(key)).map(Int.init)
        }
    }

    public func idToToken(_ id: Int) -> String? {
        id >= 0 && id < pieceStrings.count ? pieceStrings[id] : nil
    }

    public func encode(_ text: String, addSpecialTokens: Bool) -> [Int] {
        var ids: [Int] = []
        var unused: [String] = []
        var text = text
        text.withUTF8 { encode($0, ids: &ids, pieces: &unused, collectPieces: false) }
        return ids
    }

    public func encodeWithPieces(_ text: String, addSpecialTokens: Bool) -> TokenizedText {
        var ids: [Int] = []
        var pieces: [String] = []
        var text = text
        text.withUTF8 { encode($0, ids: &ids, pieces: &pieces, collectPieces: true) }
        return TokenizedText(ids: ids, pieces: pieces)
    }

    /// `Encode` + `PopulateSentencePieceText` for valid UTF-8 `input`, appending to `ids`/`pieces`.
    func encode(_ input: UnsafeBufferPointer<UInt8>, ids: inout [Int], pieces: inout [String], collectPieces: Bool) {
        let normalized = normalizer.normalize(input)
        guard !normalized.isEmpty else { return }
        var segments: [(start: Int, end: Int, id: Int32)] = []
        segments.reserveCapacity(normalized.count / 2)
        normalized.withUnsafeBufferPointer { buffer in
            switch model {
            case let .unigram(unigram): unigram.encode(buffer, into: &segments)
            case let .bpe(bpe): bpe.encode(buffer, into: &segments)
            }
        }
        let byteFallback = proto.trainerSpec.byteFallback
        var previousWasUnknown = false
        for segment in segments {
            let id = Int(segment.id)
            let isUnknown = id == unknownID
            if isUnknown && byteFallback {
                for index in segment.start..<segment.end {
                    let byteID = byteIDs[Int(normalized[index])]
                    ids.append(byteID)
                    if collectPieces { pieces.append(pieceStrings[byteID]) }
                }
            } else if isUnknown && previousWasUnknown {
                // Runs of unknown pieces become one unknown piece.
                if collectPieces, !pieces.isEmpty {
                    pieces[pieces.count - 1] += UTF8Bytes.string(normalized[segment.start..<segment.end])
                }
            } else {
                ids.append(id)
                if collectPieces { pieces.append(UTF8Bytes.string(normalized[segment.start..<segment.end])) }
            }
            previousWasUnknown = isUnknown
        }
    }

    public func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String {
        var kept: [(piece: [UInt8], id: Int)] = []
        kept.reserveCapacity(ids.count)
        for id in ids where id >= 0 && id < proto.pieces.count {
            if skipSpecialTokens && specialTokens.all.contains(id) { continue }
            kept.append((proto.pieces[id].piece, id))
        }
        return UTF8Bytes.string(decodeBytes(kept))
    }

    /// `Decode` over pieces (the id of each is `PieceToId(piece)`), as used by transformers'
    /// slow tokenizers that hand piece strings to `sp_model.decode`.
    func decode(pieces: [[UInt8]]) -> [UInt8] {
        decodeBytes(pieces.map { ($0, pieceToID($0)) })
    }

    private static let defaultUnknownSurface: [UInt8] = Array(" \u{2047} ".utf8)

    private func decodeBytes(_ pieces: [(piece: [UInt8], id: Int)]) -> [UInt8] {
        var text: [UInt8] = []
        var pendingBytes: [UInt8] = []
        var expectingLeadingSpace = true
        var leadingSpaceSeen = false
        let spec = proto.normalizerSpec
        let unknownSurface = proto.trainerSpec.unkSurface ?? Self.defaultUnknownSurface

        func flushBytes() {
            guard !pendingBytes.isEmpty else { return }
            pendingBytes.withUnsafeBufferPointer { buffer in
                var offset = 0
                while offset < buffer.count {
                    if let length = UTF8Bytes.validSequenceLength(buffer, at: offset) {
                        text.append(contentsOf: buffer[offset..<(offset + length)])
                        offset += length
                    } else {
                        text.append(contentsOf: [0xEF, 0xBF, 0xBD])
                        offset += 1
                    }
                }
            }
            pendingBytes.removeAll(keepingCapacity: true)
        }

        for (piece, id) in pieces {
            let type = proto.pieces[id].type
            if type == .byte, let value = byteValues[id] {
                pendingBytes.append(value)
                continue
            }
            flushBytes()
            if leadingSpaceSeen || !text.isEmpty { expectingLeadingSpace = false }
            switch type {
            case .control:
                leadingSpaceSeen = false
            case .unknown:
                leadingSpaceSeen = false
                if piece == proto.pieces[id].piece {
                    text.append(contentsOf: unknownSurface)
                } else {
                    text.append(contentsOf: piece)
                }
            default:
                var body = piece[...]
                var consumedSpace = false
                if expectingLeadingSpace && (spec.addDummyPrefix || spec.removeExtraWhitespaces) {
                    if body.starts(with: SentencePieceNormalizer.spaceSymbol) {
                        body = body.dropFirst(3)
                        consumedSpace = true
                    }
                    if spec.removeExtraWhitespaces { consumedSpace = false }
                }
                leadingSpaceSeen = consumedSpace
                appendReplacingSpaceSymbol(body, to: &text)
            }
        }
        flushBytes()
        if let denormalizer {
            return text.withUnsafeBufferPointer { denormalizer.normalize($0) }
        }
        return text
    }

    private func appendReplacingSpaceSymbol(_ piece: ArraySlice<UInt8>, to text: inout [UInt8]) {
        var index = piece.startIndex
        while index < piece.endIndex {
            if piece[index] == 0xE2, index + 2 < piece.endIndex, piece[index + 1] == 0x96, piece[index + 2] == 0x81 {
                text.append(0x20)
                index += 3
            } else {
                text.append(piece[index])
                index += 1
            }
        }
    }
}

/// Reads a whole file, turning I/O failures into `TokenizerError.unreadableFile`.
/// FIFOs, devices and directories are refused before a byte is read (see `UntrustedFile`).
func readFile(_ url: URL) throws(TokenizerError) -> [UInt8] {
    do {
        return try UntrustedFile.read(url)
    } catch {
        throw TokenizerError.unreadableFile(path: url.path, reason: error.reason)
    }
}
