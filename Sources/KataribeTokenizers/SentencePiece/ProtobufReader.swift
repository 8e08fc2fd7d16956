/// Reads the protobuf wire format (varint, fixed32/64, length-delimited fields) from a byte range.
///
/// Hand-written rather than swift-protobuf (on the offline list): `.model` files need only this
/// wire-level reader over the mapped bytes, and swift-protobuf would add generated code for
/// sentencepiece_model.proto plus its build plugin (a 9.5-minute first build here) to read them.
/// Offsets in failures are absolute positions in the buffer, for error messages.
struct ProtobufReader {
    struct Failure: Error {
        let offset: Int
        let reason: String
    }

    enum WireType: Int {
        case varint = 0, fixed64 = 1, lengthDelimited = 2, startGroup = 3, endGroup = 4, fixed32 = 5
    }

    let bytes: [UInt8]
    private(set) var position: Int
    let end: Int

    init(bytes: [UInt8], range: Range<Int>? = nil) {
        self.bytes = bytes
        position = range?.lowerBound ?? 0
        end = range?.upperBound ?? bytes.count
    }

    var isAtEnd: Bool { position >= end }

    /// The next field's number and wire type, or nil at the end of the message.
    mutating func nextField() throws(Failure) -> (number: Int, wireType: WireType)? {
        guard position < end else { return nil }
        let start = position
        let key = try readVarint()
        guard let wireType = WireType(rawValue: Int(key & 7)) else {
            throw Failure(offset: start, reason: "unknown wire type \(key & 7)")
        }
        let number = key >> 3
        guard number > 0, number <= 536_870_911 else { throw Failure(offset: start, reason: "invalid field number") }
        return (Int(number), wireType)
    }

    mutating func readVarint() throws(Failure) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        let start = position
        while true {
            guard position < end else { throw Failure(offset: start, reason: "truncated varint") }
            let byte = bytes[position]
            position += 1
            if shift == 63 && byte > 1 { throw Failure(offset: start, reason: "varint overflows 64 bits") }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw Failure(offset: start, reason: "varint longer than 10 bytes") }
        }
    }

    mutating func readFixed32() throws(Failure) -> UInt32 {
        guard end - position >= 4 else { throw Failure(offset: position, reason: "truncated fixed32") }
        var value: UInt32 = 0
        for i in 0..<4 { value |= UInt32(bytes[position + i]) << (8 * UInt32(i)) }
        position += 4
        return value
    }

    mutating func readFixed64() throws(Failure) -> UInt64 {
        guard end - position >= 8 else { throw Failure(offset: position, reason: "truncated fixed64") }
        var value: UInt64 = 0
        for i in 0..<8 { value |= UInt64(bytes[position + i]) << (8 * UInt64(i)) }
        position += 8
        return value
    }

    /// The byte range of a length-delimited field's payload.
    mutating func readLengthDelimited() throws(Failure) -> Range<Int> {
        let start = position
        let length = try readVarint()
        guard length <= UInt64(end - position) else {
            throw Failure(offset: start, reason: "length \(length) runs past the end of the message")
        }
        let range = position..<(position + Int(length))
        position = range.upperBound
        return range
    }

    mutating func readBytes() throws(Failure) -> [UInt8] {
        Array(bytes[try readLengthDelimited()])
    }

    mutating func readBool() throws(Failure) -> Bool { try readVarint() != 0 }

    /// proto2 `int32`: a varint holding the two's complement of the value.
    mutating func readInt32() throws(Failure) -> Int32 { Int32(truncatingIfNeeded: try readVarint()) }

    mutating func readFloat() throws(Failure) -> Float { Float(bitPattern: try readFixed32()) }

    /// Skips a field's payload. Groups (wire types 3/4) are deprecated and not used by sentencepiece.
    mutating func skip(_ wireType: WireType) throws(Failure) {
        switch wireType {
        case .varint: _ = try readVarint()
        case .fixed64: _ = try readFixed64()
        case .fixed32: _ = try readFixed32()
        case .lengthDelimited: _ = try readLengthDelimited()
        case .startGroup, .endGroup: throw Failure(offset: position, reason: "groups are not supported")
        }
    }

    /// Fails unless the field has the expected wire type.
    func expect(_ actual: WireType, _ expected: WireType, field: String) throws(Failure) {
        guard actual == expected else {
            throw Failure(offset: position, reason: "field \(field) has wire type \(actual.rawValue), expected \(expected.rawValue)")
        }
    }
}
