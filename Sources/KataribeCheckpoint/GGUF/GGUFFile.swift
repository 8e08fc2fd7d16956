import Foundation
import KataribeTensor

/// Where one tensor of a GGUF file lies and what it holds, as its header entry says (validated).
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    public let type: GGMLType
    /// ggml's order: `dimensions[0]` (ne[0]) is the length of a row, the fastest-varying index.
    public let dimensions: [Int]
    /// Bytes from the start of the data section (`GGUFFile.dataOffset`).
    public let offset: Int
    public let byteCount: Int

    public init(name: String, type: GGMLType, dimensions: [Int], offset: Int, byteCount: Int) {
        self.name = name
        self.type = type
        self.dimensions = dimensions
        self.offset = offset
        self.byteCount = byteCount
    }

    /// The shape in PyTorch's (row-major, slowest index first) order: `dimensions` reversed, so a
    /// `[in, out]` ggml weight is the `[out, in]` matrix a Hugging Face checkpoint stores.
    public var shape: [Int] { dimensions.reversed() }

    public var elementCount: Int { dimensions.reduce(1, *) }
}

/// A GGUF file (llama.cpp's model format, versions 2 and 3): its metadata, in file order, and the
/// tensors' header entries. The file stays memory-mapped; tensor bytes are views into the mapping.
///
/// The reader is strict. Everything llama.cpp's `gguf_init_from_file` or gguf-py's `GGUFReader`
/// refuses is refused here too, and more besides (see `read`); every refusal is a
/// `CheckpointError` that names the file and says what is wrong.
public struct GGUFFile: Sendable {
    public let url: URL
    public let version: UInt32
    public let metadata: [String: GGUFValue]
    /// The metadata keys in file order.
    public let metadataKeys: [String]
    /// The tensors in file order (which is also their order in the data section).
    public let tensors: [GGUFTensorInfo]
    /// `general.alignment`, or the default 32.
    public let alignment: Int
    /// Where the data section starts in the file: the end of the header rounded up to the
    /// alignment (the header's end itself in a file without tensors, as llama.cpp has it).
    public let dataOffset: Int
    /// The mapping that tensors point into.
    public let file: MappedFile
    private let tensorIndices: [String: Int]

    /// The alignment a file without `general.alignment` has.
    public static let defaultAlignment = 32

    /// Maps and reads the file at `url`.
    public static func read(url: URL) throws(CheckpointError) -> GGUFFile {
        try read(MappedFile(url: url))
    }

    /// Reads an already mapped file.
    ///
    /// Refused (each with a `CheckpointError` naming the file): a magic other than `GGUF`;
    /// versions other than 2 and 3 (1 used 32-bit counts; a byte-swapped version means a
    /// big-endian file); counts of metadata entries, tensors or array elements that the bytes left
    /// cannot hold (checked before anything is allocated); strings or values past the end of the
    /// file, strings over 1 GiB and arrays over 2^30 elements (llama.cpp's limits); unknown value
    /// types and arrays of arrays (llama.cpp refuses them); booleans other than 0 and 1; text that
    /// is not UTF-8 (keys, string values, tensor names); empty, over-long (> 65,535 bytes) or
    /// NUL-containing keys; duplicate keys; `general.alignment` that is not a UINT32 power of two;
    /// empty tensor names, names of 64 bytes or more (ggml's `GGML_MAX_NAME`) or with NULs;
    /// duplicate tensor names; 0 or more than 4 dimensions; a dimension below 1; element or byte
    /// counts that overflow; tensor types this build does not know, or that have no block size;
    /// rows (ne[0]) that are not a whole number of blocks; a data section that would start past
    /// the end of the file; and tensors that are not laid out as llama.cpp demands: each at an
    /// offset that is a multiple of the alignment, right after the previous one (padded to the
    /// alignment), in header order, and inside the file.
    public static func read(_ file: MappedFile) throws(CheckpointError) -> GGUFFile {
        var parser = GGUFParser(bytes: file.bytes, path: file.path)
        let header = try parser.parse()
        return GGUFFile(file: file, header: header)
    }

    private init(file: MappedFile, header: GGUFParser.Header) {
        self.url = file.url
        self.file = file
        self.version = header.version
        self.metadata = header.metadata
        self.metadataKeys = header.metadataKeys
        self.tensors = header.tensors
        self.alignment = header.alignment
        self.dataOffset = header.dataOffset
        self.tensorIndices = header.tensorIndices
    }

    public var path: String { url.path }

    /// The value of metadata key `key`.
    public subscript(key: String) -> GGUFValue? { metadata[key] }

    /// `general.architecture` (`llama`, `gemma3`, …), which prefixes the model's hyperparameter keys.
    public var architecture: String? { metadata["general.architecture"]?.string }

    /// The header entry of the tensor called `name`.
    public func tensor(named name: String) -> GGUFTensorInfo? {
        tensorIndices[name].map { tensors[$0] }
    }

    /// The tensor's stored bytes, whatever its type (quantized blocks included), as a `uint8`
    /// tensor of shape `[byteCount]` inside the mapping. `tensor` must come from this file.
    public func bytes(of tensor: GGUFTensorInfo) -> RawTensor {
        RawTensor(dtype: .uint8, shape: [tensor.byteCount], storage: file.storage, byteOffset: start(of: tensor))
    }

    /// The tensor as a dense tensor of PyTorch shape (`tensor.shape`) for the unquantized types
    /// (F32, F16, BF16, F64, I8, I16, I32, I64), inside the mapping; nil for quantized types.
    /// `tensor` must come from this file.
    public func denseTensor(_ tensor: GGUFTensorInfo) -> RawTensor? {
        let dtype: DType
        switch tensor.type {
        case .f32: dtype = .float32
        case .f16: dtype = .float16
        case .bf16: dtype = .bfloat16
        case .f64: dtype = .float64
        case .i8: dtype = .int8
        case .i16: dtype = .int16
        case .i32: dtype = .int32
        case .i64: dtype = .int64
        default: return nil
        }
        return RawTensor(dtype: dtype, shape: tensor.shape, storage: file.storage, byteOffset: start(of: tensor))
    }

    /// The file offset of the tensor's first byte, checked against the mapping: an info from a
    /// different file must not turn into a view past the end of this one.
    private func start(of tensor: GGUFTensorInfo) -> Int {
        let start = dataOffset + tensor.offset
        precondition(tensor.offset >= 0 && tensor.byteCount >= 0 && start <= file.size && tensor.byteCount <= file.size - start,
                     "GGUF tensor '\(tensor.name)' does not lie inside \(path)")
        return start
    }
}
