/// The fields of sentencepiece's `ModelProto` that encoding and decoding depend on, parsed by hand
/// from the protobuf wire format (sentencepiece_model.proto, proto2). Unknown fields are skipped,
/// repeated occurrences of a message field are merged, as protobuf does.
struct SentencePieceModelProto: Sendable {
    enum PieceType: Int, Sendable {
        case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    struct Piece: Sendable {
        var piece: [UInt8] = []
        var score: Float = 0
        var type: PieceType = .normal
    }

    enum ModelType: Int, Sendable {
        case unigram = 1, bpe = 2, word = 3, character = 4
    }

    struct TrainerSpec: Sendable {
        var modelType: ModelType = .unigram
        var vocabSize: Int32 = 8000
        var byteFallback = false
        var treatWhitespaceAsSuffix = false
        var splitDigits = false
        var unkID: Int32 = 0
        var bosID: Int32 = 1
        var eosID: Int32 = 2
        var padID: Int32 = -1
        var unkPiece: [UInt8]?
        var bosPiece: [UInt8]?
        var eosPiece: [UInt8]?
        var padPiece: [UInt8]?
        /// Present only when set in the file; decoding uses " ⁇ " otherwise.
        var unkSurface: [UInt8]?
    }

    struct NormalizerSpec: Sendable {
        var name: String?
        var precompiledCharsMap: [UInt8] = []
        var addDummyPrefix = true
        var removeExtraWhitespaces = true
        var escapeWhitespaces = true
    }

    struct SelfTestSample: Sendable {
        var input: [UInt8] = []
        var expected: [UInt8] = []
    }

    var pieces: [Piece] = []
    var trainerSpec = TrainerSpec()
    var normalizerSpec = NormalizerSpec()
    var denormalizerSpec: NormalizerSpec?
    var selfTestSamples: [SelfTestSample] = []

    init(bytes: [UInt8]) throws(ProtobufReader.Failure) {
        var reader = ProtobufReader(bytes: bytes)
        while let (number, wireType) = try reader.nextField() {
            switch number {
            case 1:
                try reader.expect(wireType, .lengthDelimited, field: "pieces")
                pieces.append(try Self.parsePiece(bytes, try reader.readLengthDelimited()))
            case 2:
                try reader.expect(wireType, .lengthDelimited, field: "trainer_spec")
                try Self.parseTrainerSpec(bytes, try reader.readLengthDelimited(), into: &trainerSpec)
            case 3:
                try reader.expect(wireType, .lengthDelimited, field: "normalizer_spec")
                try Self.parseNormalizerSpec(bytes, try reader.readLengthDelimited(), into: &normalizerSpec)
            case 4:
                try reader.expect(wireType, .lengthDelimited, field: "self_test_data")
                try Self.parseSelfTestData(bytes, try reader.readLengthDelimited(), into: &selfTestSamples)
            case 5:
                try reader.expect(wireType, .lengthDelimited, field: "denormalizer_spec")
                var spec = denormalizerSpec ?? NormalizerSpec()
                try Self.parseNormalizerSpec(bytes, try reader.readLengthDelimited(), into: &spec)
                denormalizerSpec = spec
            default:
                try reader.skip(wireType)
            }
        }
    }

    private static func parsePiece(_ bytes: [UInt8], _ range: Range<Int>) throws(ProtobufReader.Failure) -> Piece {
        var piece = Piece()
        var reader = ProtobufReader(bytes: bytes, range: range)
        while let (number, wireType) = try reader.nextField() {
            switch (number, wireType) {
            case (1, .lengthDelimited): piece.piece = try reader.readBytes()
            case (2, .fixed32): piece.score = try reader.readFloat()
            case (3, .varint):
                // proto2 keeps an unknown enum value out of the field, which then reads as its default.
                if let type = PieceType(rawValue: Int(truncatingIfNeeded: try reader.readVarint())) { piece.type = type }
            case (1, _), (2, _), (3, _):
                throw ProtobufReader.Failure(offset: reader.position, reason: "SentencePiece field \(number) has the wrong wire type")
            default: try reader.skip(wireType)
            }
        }
        return piece
    }

    private static func parseTrainerSpec(_ bytes: [UInt8], _ range: Range<Int>, into spec: inout TrainerSpec) throws(ProtobufReader.Failure) {
        var reader = ProtobufReader(bytes: bytes, range: range)
        while let (number, wireType) = try reader.nextField() {
            let expected: ProtobufReader.WireType
            switch number {
            case 3, 4, 24, 25, 35, 40, 41, 42, 43: expected = .varint
            case 44, 45, 46, 47, 48: expected = .lengthDelimited
            default:
                try reader.skip(wireType)
                continue
            }
            try reader.expect(wireType, expected, field: "TrainerSpec.\(number)")
            switch number {
            case 3:
                if let type = ModelType(rawValue: Int(truncatingIfNeeded: try reader.readVarint())) { spec.modelType = type }
            case 4: spec.vocabSize = try reader.readInt32()
            case 24: spec.treatWhitespaceAsSuffix = try reader.readBool()
            case 25: spec.splitDigits = try reader.readBool()
            case 35: spec.byteFallback = try reader.readBool()
            case 40: spec.unkID = try reader.readInt32()
            case 41: spec.bosID = try reader.readInt32()
            case 42: spec.eosID = try reader.readInt32()
            case 43: spec.padID = try reader.readInt32()
            case 44: spec.unkSurface = try reader.readBytes()
            case 45: spec.unkPiece = try reader.readBytes()
            case 46: spec.bosPiece = try reader.readBytes()
            case 47: spec.eosPiece = try reader.readBytes()
            default: spec.padPiece = try reader.readBytes()
            }
        }
    }

    private static func parseNormalizerSpec(_ bytes: [UInt8], _ range: Range<Int>, into spec: inout NormalizerSpec) throws(ProtobufReader.Failure) {
        var reader = ProtobufReader(bytes: bytes, range: range)
        while let (number, wireType) = try reader.nextField() {
            switch number {
            case 1:
                try reader.expect(wireType, .lengthDelimited, field: "NormalizerSpec.name")
                spec.name = UTF8Bytes.lossyString(try reader.readBytes())
            case 2:
                try reader.expect(wireType, .lengthDelimited, field: "NormalizerSpec.precompiled_charsmap")
                spec.precompiledCharsMap = try reader.readBytes()
            case 3:
                try reader.expect(wireType, .varint, field: "NormalizerSpec.add_dummy_prefix")
                spec.addDummyPrefix = try reader.readBool()
            case 4:
                try reader.expect(wireType, .varint, field: "NormalizerSpec.remove_extra_whitespaces")
                spec.removeExtraWhitespaces = try reader.readBool()
            case 5:
                try reader.expect(wireType, .varint, field: "NormalizerSpec.escape_whitespaces")
                spec.escapeWhitespaces = try reader.readBool()
            default:
                try reader.skip(wireType)
            }
        }
    }

    private static func parseSelfTestData(_ bytes: [UInt8], _ range: Range<Int>, into samples: inout [SelfTestSample]) throws(ProtobufReader.Failure) {
        var reader = ProtobufReader(bytes: bytes, range: range)
        while let (number, wireType) = try reader.nextField() {
            guard number == 1, wireType == .lengthDelimited else {
                try reader.skip(wireType)
                continue
            }
            var sample = SelfTestSample()
            var inner = ProtobufReader(bytes: bytes, range: try reader.readLengthDelimited())
            while let (field, type) = try inner.nextField() {
                switch (field, type) {
                case (1, .lengthDelimited): sample.input = try inner.readBytes()
                case (2, .lengthDelimited): sample.expected = try inner.readBytes()
                default: try inner.skip(type)
                }
            }
            samples.append(sample)
        }
    }
}
