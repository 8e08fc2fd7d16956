import KataribeSupport
import KataribeTensor

/// Parses and validates a GGUF header from the mapped bytes of a file. All reads are bounds
/// checked against the mapping; every count is checked against the bytes left before anything is
/// allocated for it, so a hostile count of 2^60 costs nothing.
///
/// Numbers are little-endian in the file. Arrays of numbers are copied in one go, which assumes a
/// little-endian host (every platform Kataribe builds for).
struct GGUFParser {
    struct Header {
        var version: UInt32
        var metadata: [String: GGUFValue]
        var metadataKeys: [String]
        var tensors: [GGUFTensorInfo]
        var tensorIndices: [String: Int]
        var alignment: Int
        var dataOffset: Int
    }

    /// llama.cpp's `GGUF_MAX_STRING_LENGTH` and `GGUF_MAX_ARRAY_ELEMENTS`.
    static let maximumStringLength = 1 << 30
    static let maximumArrayCount = 1 << 30
    /// The GGUF specification's limit on a key's length.
    static let maximumKeyLength = 65_535
    /// ggml's `GGML_MAX_NAME`: a name must fit 63 bytes and a NUL.
    static let maximumTensorNameLength = 63
    /// ggml's `GGML_MAX_DIMS`.
    static let maximumDimensions = 4
    /// The fewest bytes a metadata entry can take: key length, a 1-byte key, type, a 1-byte value.
    static let minimumEntrySize = 8 + 1 + 4 + 1
    /// The fewest bytes a tensor entry can take: name length, a 1-byte name, dimension count, one
    /// dimension, type, offset.
    static let minimumTensorEntrySize = 8 + 1 + 4 + 8 + 4 + 8

    let bytes: UnsafeRawBufferPointer
    let path: String
    var position = 0

    init(bytes: UnsafeRawBufferPointer, path: String) {
        self.bytes = bytes
        self.path = path
    }

    var remaining: Int { bytes.count - position }

    func fail(_ reason: CheckpointError.Reason) -> CheckpointError { CheckpointError(file: path, reason) }

    mutating func parse() throws(CheckpointError) -> Header {
        guard bytes.count >= 4 else {
            throw fail(.truncated("\(bytes.count) bytes is shorter than the 4-byte GGUF magic"))
        }
        let magic = Array(bytes[0..<4])
        guard magic == Array("GGUF".utf8) else { throw fail(.notGGUF(magic: magic)) }
        position = 4
        let version = try load(UInt32.self, "the version")
        guard version == 2 || version == 3 else { throw fail(.unsupportedGGUFVersion(version)) }
        let tensorCount = try load(UInt64.self, "the tensor count")
        let entryCount = try load(UInt64.self, "the metadata entry count")
        // Both tables must fit in what is left; checked on the division side so that no product
        // of a hostile count overflows.
        let entryBytesLeft = UInt64(remaining) / UInt64(Self.minimumEntrySize)
        guard entryCount <= entryBytesLeft else {
            throw fail(.invalidGGUF("the header claims \(entryCount) metadata entries but the \(remaining) bytes left hold at most \(entryBytesLeft)"))
        }
        let tensorBytesLeft = UInt64(remaining - Int(entryCount) * Self.minimumEntrySize) / UInt64(Self.minimumTensorEntrySize)
        guard tensorCount <= tensorBytesLeft else {
            throw fail(.invalidGGUF("the header claims \(tensorCount) tensors (and \(entryCount) metadata entries) but the \(remaining) bytes left hold at most \(tensorBytesLeft) tensors"))
        }

        var metadata: [String: GGUFValue] = [:]
        var keys: [String] = []
        metadata.reserveCapacity(Int(entryCount))
        keys.reserveCapacity(Int(entryCount))
        for index in 0..<Int(entryCount) {
            let key = try readKey(index: index)
            guard metadata[key] == nil else { throw fail(.duplicateGGUFKey(key)) }
            metadata[key] = try readValue(key: key)
            keys.append(key)
        }

        let alignment = try alignment(metadata)
        var tensors: [GGUFTensorInfo] = []
        var tensorIndices: [String: Int] = [:]
        tensors.reserveCapacity(Int(tensorCount))
        tensorIndices.reserveCapacity(Int(tensorCount))
        for index in 0..<Int(tensorCount) {
            let tensor = try readTensorInfo(index: index)
            guard tensorIndices[tensor.name] == nil else { throw fail(.duplicateTensor(tensor.name)) }
            tensorIndices[tensor.name] = index
            tensors.append(tensor)
        }

        let headerEnd = position
        var dataOffset = headerEnd
        if !tensors.isEmpty {
            dataOffset = Self.padded(headerEnd, to: alignment)
            guard dataOffset <= bytes.count else {
                throw fail(.truncated("the header ends at byte \(headerEnd) and the data section would start at \(dataOffset), past the end of the file (\(bytes.count) bytes)"))
            }
        }
        try checkLayout(tensors, dataOffset: dataOffset, alignment: alignment)
        return Header(version: version, metadata: metadata, metadataKeys: keys, tensors: tensors,
                      tensorIndices: tensorIndices, alignment: alignment, dataOffset: dataOffset)
    }

    // MARK: Primitive reads

    /// Throws `truncated` unless `count` more bytes are there.
    func need(_ count: Int, _ what: @autoclosure () -> String) throws(CheckpointError) {
        guard count <= remaining else {
            throw fail(.truncated("\(what()) needs \(count) bytes at byte \(position) but the file ends at \(bytes.count)"))
        }
    }

    mutating func load<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws(CheckpointError) -> T {
        try need(MemoryLayout<T>.size, what())
        let value = T(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: T.self))
        position += MemoryLayout<T>.size
        return value
    }

    /// A length-prefixed string's bytes, checked against the end of the file and llama.cpp's limit.
    mutating func stringBytes(_ what: @autoclosure () -> String) throws(CheckpointError) -> UnsafeBufferPointer<UInt8> {
        let length = try load(UInt64.self, "the length of \(what())")
        guard length <= UInt64(remaining) else {
            throw fail(.truncated("\(what()) claims \(length) bytes but only \(remaining) are left at byte \(position)"))
        }
        guard length <= UInt64(Self.maximumStringLength) else {
            throw fail(.invalidGGUF("\(what()) has \(length) bytes, more than llama.cpp's limit of \(Self.maximumStringLength)"))
        }
        let start = position
        position += Int(length)
        return UnsafeBufferPointer(start: bytes.baseAddress!.assumingMemoryBound(to: UInt8.self) + start, count: Int(length))
    }

    /// The text, or nil when it is not UTF-8.
    static func text(_ utf8: UnsafeBufferPointer<UInt8>) -> String? {
        String(validating: utf8, as: UTF8.self)
    }

    /// Invalid text made showable for an error message.
    static func lossy(_ utf8: UnsafeBufferPointer<UInt8>) -> String {
        String(decoding: utf8.prefix(256), as: UTF8.self)
    }

    static func padded(_ offset: Int, to alignment: Int) -> Int {
        let (sum, overflow) = offset.addingReportingOverflow(alignment - 1)
        return overflow ? Int.max : sum / alignment * alignment
    }

    // MARK: Metadata

    mutating func readKey(index: Int) throws(CheckpointError) -> String {
        let utf8 = try stringBytes("the key of metadata entry \(index)")
        guard let key = Self.text(utf8) else {
            throw fail(.invalidGGUFKey(Self.lossy(utf8), reason: "metadata entry \(index): the key is not valid UTF-8"))
        }
        guard !utf8.isEmpty else { throw fail(.invalidGGUFKey(key, reason: "metadata entry \(index) has an empty key")) }
        guard utf8.count <= Self.maximumKeyLength else {
            throw fail(.invalidGGUFKey(key, reason: "\(utf8.count) bytes is longer than the \(Self.maximumKeyLength) a key may have"))
        }
        // llama.cpp keeps keys as C strings in places; a NUL would make two different keys equal.
        guard !utf8.contains(0) else { throw fail(.invalidGGUFKey(key, reason: "the key contains a NUL byte")) }
        return key
    }

    mutating func readValueType(key: String, _ what: String) throws(CheckpointError) -> GGUFValueType {
        let raw = try load(UInt32.self, "the \(what) of '\(UntrustedText.quoted(key))'")
        guard let type = GGUFValueType(rawValue: raw) else {
            throw fail(.invalidGGUFValue(key: key, reason: "unknown \(what) \(raw) (GGUF has types 0 to 12)"))
        }
        return type
    }

    mutating func readValue(key: String) throws(CheckpointError) -> GGUFValue {
        let type = try readValueType(key: key, "value type")
        guard type == .array else { return try readScalar(type, key: key) }
        let elementType = try readValueType(key: key, "array element type")
        guard elementType != .array else {
            throw fail(.invalidGGUFValue(key: key, reason: "arrays of arrays are not supported (llama.cpp refuses them too)"))
        }
        let rawCount = try load(UInt64.self, "the array length of '\(UntrustedText.quoted(key))'")
        let fits = UInt64(remaining / elementType.minimumEncodedSize)
        guard rawCount <= fits else {
            throw fail(.invalidGGUFValue(key: key, reason: "an array of \(rawCount) \(elementType) elements cannot fit in the \(remaining) bytes left"))
        }
        guard rawCount <= UInt64(Self.maximumArrayCount) else {
            throw fail(.invalidGGUFValue(key: key, reason: "an array of \(rawCount) elements is longer than llama.cpp's limit of \(Self.maximumArrayCount)"))
        }
        return .array(try readArray(elementType, count: Int(rawCount), key: key))
    }

    mutating func readScalar(_ type: GGUFValueType, key: String) throws(CheckpointError) -> GGUFValue {
        let what = "the \(type) value of '\(UntrustedText.quoted(key))'"
        switch type {
        case .uint8: return .uint8(try load(UInt8.self, what))
        case .int8: return .int8(try load(Int8.self, what))
        case .uint16: return .uint16(try load(UInt16.self, what))
        case .int16: return .int16(try load(Int16.self, what))
        case .uint32: return .uint32(try load(UInt32.self, what))
        case .int32: return .int32(try load(Int32.self, what))
        case .uint64: return .uint64(try load(UInt64.self, what))
        case .int64: return .int64(try load(Int64.self, what))
        case .float32: return .float32(Float(bitPattern: try load(UInt32.self, what)))
        case .float64: return .float64(Double(bitPattern: try load(UInt64.self, what)))
        case .bool: return .bool(try bool(try load(UInt8.self, what), key: key, index: nil))
        case .string: return .string(try readText(key: key, index: nil))
        case .array: preconditionFailure("arrays are read by readValue")
        }
    }

    /// Writers store 0 and 1; another byte means the reader and the writer disagree about where
    /// values lie, so it is refused rather than read as true.
    func bool(_ byte: UInt8, key: String, index: Int?) throws(CheckpointError) -> Bool {
        guard byte <= 1 else {
            throw fail(.invalidGGUFValue(key: key, reason: "\(index.map { "element \($0): " } ?? "")boolean byte \(byte) is neither 0 nor 1"))
        }
        return byte == 1
    }

    /// A string value. Text that is not UTF-8 is refused: gguf-py cannot decode it either, and a
    /// replacement character would silently change a vocabulary entry.
    mutating func readText(key: String, index: Int?) throws(CheckpointError) -> String {
        let utf8 = try stringBytes("\(index.map { "element \($0) of " } ?? "")the string value of '\(UntrustedText.quoted(key))'")
        guard let text = Self.text(utf8) else {
            let which = index.map { "string \($0) of the array" } ?? "the string"
            throw fail(.invalidGGUFValue(key: key, reason: "\(which) is not valid UTF-8: '\(Self.lossy(utf8))'"))
        }
        return text
    }

    mutating func readArray(_ type: GGUFValueType, count: Int, key: String) throws(CheckpointError) -> GGUFArray {
        switch type {
        case .uint8: return .uint8(try copyArray(UInt8.self, count: count, key: key))
        case .int8: return .int8(try copyArray(Int8.self, count: count, key: key))
        case .uint16: return .uint16(try copyArray(UInt16.self, count: count, key: key))
        case .int16: return .int16(try copyArray(Int16.self, count: count, key: key))
        case .uint32: return .uint32(try copyArray(UInt32.self, count: count, key: key))
        case .int32: return .int32(try copyArray(Int32.self, count: count, key: key))
        case .uint64: return .uint64(try copyArray(UInt64.self, count: count, key: key))
        case .int64: return .int64(try copyArray(Int64.self, count: count, key: key))
        case .float32: return .float32(try copyArray(Float.self, count: count, key: key))
        case .float64: return .float64(try copyArray(Double.self, count: count, key: key))
        case .bool:
            let raw = try copyArray(UInt8.self, count: count, key: key)
            var values: [Bool] = []
            values.reserveCapacity(count)
            for (index, byte) in raw.enumerated() { values.append(try bool(byte, key: key, index: index)) }
            return .bool(values)
        case .string:
            // The hot path of a tokenizer vocabulary (262,144 strings for Gemma 3): one validation
            // and one String per entry, nothing else.
            var values: [String] = []
            values.reserveCapacity(count)
            for index in 0..<count { values.append(try readText(key: key, index: index)) }
            return .string(values)
        case .array: preconditionFailure("nested arrays are refused by readValue")
        }
    }

    /// `count` fixed-size values copied straight out of the mapping (little-endian host).
    mutating func copyArray<T: BitwiseCopyable>(_: T.Type, count: Int, key: String) throws(CheckpointError) -> [T] {
        let size = MemoryLayout<T>.stride * count  // count was bounded by the bytes left
        try need(size, "an array of \(count) values of '\(UntrustedText.quoted(key))'")
        let source = bytes.baseAddress! + position
        position += size
        return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            if let target = buffer.baseAddress { UnsafeMutableRawPointer(target).copyMemory(from: source, byteCount: size) }
            initialized = count
        }
    }

    /// `general.alignment` as llama.cpp and gguf-py require it: a UINT32 power of two.
    func alignment(_ metadata: [String: GGUFValue]) throws(CheckpointError) -> Int {
        guard let value = metadata["general.alignment"] else { return GGUFFile.defaultAlignment }
        guard case .uint32(let alignment) = value else {
            throw fail(.invalidGGUFValue(key: "general.alignment", reason: "it is \(value.type), not UINT32"))
        }
        guard alignment != 0, alignment & (alignment - 1) == 0 else {
            throw fail(.invalidGGUFValue(key: "general.alignment", reason: "\(alignment) is not a power of two"))
        }
        return Int(alignment)
    }

    // MARK: Tensor infos

    mutating func readTensorInfo(index: Int) throws(CheckpointError) -> GGUFTensorInfo {
        let utf8 = try stringBytes("the name of tensor \(index)")
        guard let name = Self.text(utf8) else {
            throw fail(.invalidGGUFTensor(tensor: Self.lossy(utf8), reason: "tensor \(index): the name is not valid UTF-8"))
        }
        func invalid(_ why: String) -> CheckpointError { fail(.invalidGGUFTensor(tensor: name, reason: why)) }
        guard !utf8.isEmpty else { throw invalid("tensor \(index) has an empty name") }
        guard utf8.count <= Self.maximumTensorNameLength else {
            throw invalid("the name has \(utf8.count) bytes; ggml allows \(Self.maximumTensorNameLength)")
        }
        guard !utf8.contains(0) else { throw invalid("the name contains a NUL byte") }

        let quotedName = UntrustedText.quoted(name)
        let dimensionCount = try load(UInt32.self, "the dimension count of tensor '\(quotedName)'")
        guard dimensionCount >= 1, dimensionCount <= UInt32(Self.maximumDimensions) else {
            throw invalid("\(dimensionCount) dimensions (GGUF tensors have 1 to \(Self.maximumDimensions))")
        }
        var dimensions: [Int] = []
        for axis in 0..<Int(dimensionCount) {
            let raw = try load(Int64.self, "dimension \(axis) of tensor '\(quotedName)'")
            guard raw >= 1 else { throw invalid("dimension \(axis) is \(raw)") }
            dimensions.append(Int(raw))
        }
        guard let elementCount = checkedProduct(dimensions) else {
            throw invalid("the element count of dimensions \(dimensions) overflows")
        }

        let rawType = try load(UInt32.self, "the type of tensor '\(quotedName)'")
        guard let type = GGMLType(rawValue: rawType) else { throw invalid(Self.unsupportedTypeReason(rawType)) }
        guard dimensions[0] % type.blockSize == 0 else {
            throw invalid("its rows have \(dimensions[0]) elements, not a multiple of the \(type) block size \(type.blockSize)")
        }
        guard let byteCount = type.byteCount(elements: elementCount) else {
            throw invalid("the byte count of \(elementCount) \(type) elements overflows")
        }

        let rawOffset = try load(UInt64.self, "the data offset of tensor '\(quotedName)'")
        guard let offset = Int(exactly: rawOffset) else { throw invalid("data offset \(rawOffset) is beyond any file") }
        return GGUFTensorInfo(name: name, type: type, dimensions: dimensions, offset: offset, byteCount: byteCount)
    }

    /// Why a ggml type id cannot be read: a type ggml has but this build cannot compute with, one
    /// ggml removed (it has no block size any more), or no type at all.
    static func unsupportedTypeReason(_ id: UInt32) -> String {
        let unsupported: [UInt32: String] = [
            16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S",
            23: "IQ4_XS", 29: "IQ1_M", 34: "TQ1_0", 35: "TQ2_0", 39: "MXFP4",
        ]
        let removed: [UInt32: String] = [
            4: "Q4_2", 5: "Q4_3", 31: "Q4_0_4_4", 32: "Q4_0_4_8", 33: "Q4_0_8_8",
            36: "IQ4_NL_4_4", 37: "IQ4_NL_4_8", 38: "IQ4_NL_8_8",
        ]
        if let name = unsupported[id] { return "type \(name) (\(id)) is not supported by Kataribe" }
        if let name = removed[id] { return "type \(name) (\(id)) was removed from ggml and has no block size" }
        return "unknown ggml type \(id)"
    }

    /// llama.cpp's layout rule: in header order, each tensor starts where the previous one ended,
    /// padded to the alignment. That also rules out overlaps, gaps and misaligned tensors; each is
    /// reported as what it is. Every tensor must end inside the file (the padding after the last
    /// one may be missing).
    func checkLayout(_ tensors: [GGUFTensorInfo], dataOffset: Int, alignment: Int) throws(CheckpointError) {
        let available = bytes.count - dataOffset
        var expected = 0
        var previous: String?
        for tensor in tensors {
            guard tensor.offset % alignment == 0 else {
                throw fail(.invalidGGUFTensor(tensor: tensor.name, reason: "data offset \(tensor.offset) is not a multiple of the alignment \(alignment)"))
            }
            if tensor.offset < expected, let previous { throw fail(.overlappingTensors(previous, tensor.name)) }
            guard tensor.offset == expected else {
                throw fail(.misplacedGGUFTensor(tensor: tensor.name, offset: tensor.offset, expected: expected))
            }
            guard tensor.byteCount <= available - tensor.offset else {
                let (end, overflow) = tensor.offset.addingReportingOverflow(tensor.byteCount)
                throw fail(.offsetOutOfBounds(tensor: tensor.name, end: overflow ? Int.max : end, available: available))
            }
            expected = Self.padded(tensor.offset + tensor.byteCount, to: alignment)
            previous = tensor.name
        }
    }
}
