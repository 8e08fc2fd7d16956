import Foundation
import KataribeTensor

/// Reads a `torch.save` checkpoint (`pytorch_model.bin`): a zip archive holding `data.pkl`
/// (the pickled state dict) and one uncompressed `data/<key>` entry per storage. Tensors are
/// views into the memory-mapped archive; non-contiguous ones are copied into contiguous memory.
public enum TorchCheckpointReader {
    public static func read(url: URL) throws(CheckpointError) -> TensorCollection {
        try read(MappedFile(url: url))
    }

    public static func read(_ file: MappedFile) throws(CheckpointError) -> TensorCollection {
        let path = file.path
        let bytes = file.bytes
        try checkContainer(bytes, path: path)
        let archive = try ZipArchive(path: path, bytes: bytes)

        // Entries are "<archive name>/data.pkl", "<archive name>/data/0", ...
        let pickleNames = archive.orderedNames.filter { $0 == "data.pkl" || $0.hasSuffix("/data.pkl") }
        guard let pickleName = pickleNames.min(by: { $0.count < $1.count }) else {
            throw CheckpointError(file: path, .missingEntry("data.pkl"))
        }
        let prefix = String(pickleName.dropLast("data.pkl".count))
        if let order = archive.entries[prefix + "byteorder"] {
            let (offset, count) = try archive.data(of: order.name)
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)]), as: UTF8.self)
            guard text == "little" else {
                throw CheckpointError(file: path, .unsupportedTensor(tensor: "*", reason: "byte order '\(text)' is not little-endian"))
            }
        }
        let (pickleOffset, pickleCount) = try archive.data(of: pickleName)
        var machine = PickleMachine(
            path: path, bytes: UnsafeRawBufferPointer(rebasing: bytes[pickleOffset..<(pickleOffset + pickleCount)]))
        defer { machine.dismantle() }
        let root = try machine.run()
        guard case .dict(let stateDict) = root else {
            throw CheckpointError(file: path, .malformedPickle("expected a state dict at the top level, found \(root.kindName)"))
        }

        var collection = TensorCollection()
        collection.format = "pytorch"
        for (key, value) in stateDict.pairs {
            guard case .string(let name) = key else {
                throw CheckpointError(file: path, .malformedPickle("state dict key is a \(key.kindName), not a string"))
            }
            guard case .tensor(let pickled) = value else {
                throw CheckpointError(file: path, .unsupportedTensor(tensor: name, reason: "value is a \(value.kindName), not a tensor"))
            }
            let tensor = try materialize(pickled, named: name, archive: archive, file: file, prefix: prefix)
            try collection.insert(tensor, named: name, from: path)
        }
        collection.addFile(file.url)
        return collection
    }

    /// Zip files start with a local header; torch < 1.6 files start with a pickled magic number
    /// (or are tar archives) and are refused with a clear message.
    static func checkContainer(_ bytes: UnsafeRawBufferPointer, path: String) throws(CheckpointError) {
        let reader = ByteReader(bytes)
        if reader.u32(at: 0) == ZipArchive.localHeaderSignature { return }
        if reader.u8(at: 0) == 0x80 { throw CheckpointError(file: path, .legacyTorchFormat) }
        if let magic = reader.slice(257, 5), Array(magic) == Array("ustar".utf8) {
            throw CheckpointError(file: path, .legacyTorchFormat)
        }
        throw CheckpointError(file: path, .notAZipArchive("missing zip signature"))
    }

    static func materialize(
        _ pickled: PickledTensor, named name: String, archive: ZipArchive, file: MappedFile, prefix: String
    ) throws(CheckpointError) -> RawTensor {
        let path = file.path
        func unsupported(_ why: String) -> CheckpointError {
            CheckpointError(file: path, .unsupportedTensor(tensor: name, reason: why))
        }
        let storage = pickled.storage
        let elementSize = storage.dtype.size
        let (entryOffset, entryCount) = try archive.data(of: prefix + "data/" + storage.key)
        guard let storageBytes = checkedProduct([storage.elementCount, elementSize]), storageBytes <= entryCount else {
            throw unsupported("storage '\(storage.key)' claims \(storage.elementCount) elements but its entry has \(entryCount) bytes")
        }
        guard let elementCount = checkedProduct(pickled.shape) else { throw unsupported("shape \(pickled.shape) overflows") }
        // A view never has more elements than its storage, and no element twice: a stride of 0 (or
        // any overlap) would let a one-element storage claim 2^35 elements, which a copy would then
        // allocate. torch refuses such views too. Checked before anything is allocated.
        guard elementCount <= storage.elementCount else {
            throw unsupported("shape \(pickled.shape) has \(elementCount) elements but its storage has \(storage.elementCount)")
        }
        if elementCount > 1, !isNonOverlapping(shape: pickled.shape, strides: pickled.strides) {
            throw unsupported("strides \(pickled.strides) for shape \(pickled.shape) reuse elements (overlapping or broadcast views are not supported)")
        }
        if elementCount == 0 {
            return RawTensor(dtype: storage.dtype, shape: pickled.shape, storage: file.storage, byteOffset: entryOffset)
        }
        // The furthest element any index can reach must lie inside the storage.
        var lastIndex = pickled.offset
        for (size, stride) in zip(pickled.shape, pickled.strides) {
            guard let reach = checkedProduct([size - 1, stride]) else { throw unsupported("strides overflow") }
            let (sum, overflow) = lastIndex.addingReportingOverflow(reach)
            guard !overflow else { throw unsupported("strides overflow") }
            lastIndex = sum
        }
        guard lastIndex < storage.elementCount else {
            throw unsupported("view reaches element \(lastIndex) of a storage with \(storage.elementCount)")
        }
        let base = entryOffset + pickled.offset * elementSize
        if isContiguous(shape: pickled.shape, strides: pickled.strides) {
            return RawTensor(dtype: storage.dtype, shape: pickled.shape, storage: file.storage, byteOffset: base)
        }
        // A strided view (e.g. a saved transpose): gather it into fresh row-major memory.
        guard let fileBase = file.bytes.baseAddress else { throw unsupported("storage has no bytes") }
        let source = fileBase + base
        let copy = ByteStorage(count: elementCount * elementSize) { out in
            gather(source, into: out, shape: pickled.shape, strides: pickled.strides, elementSize: elementSize)
        }
        return RawTensor(dtype: storage.dtype, shape: pickled.shape, storage: copy, byteOffset: 0)
    }

    /// Whether distinct indices reach distinct elements: taken by increasing stride, each
    /// dimension's stride must step past the furthest element the smaller ones reach (sizes of 1
    /// never overlap). Sufficient, and exact for every layout torch.save writes.
    static func isNonOverlapping(shape: [Int], strides: [Int]) -> Bool {
        var extent = 1  // one past the furthest offset the dimensions placed so far reach
        for (size, stride) in zip(shape, strides).filter({ $0.0 > 1 }).sorted(by: { $0.1 < $1.1 }) {
            guard stride >= extent, let reach = checkedProduct([size - 1, stride]) else { return false }
            let (sum, overflow) = extent.addingReportingOverflow(reach)
            guard !overflow else { return false }
            extent = sum
        }
        return true
    }

    static func isContiguous(shape: [Int], strides: [Int]) -> Bool {
        var expected = 1
        for (size, stride) in zip(shape, strides).reversed() {
            if size != 1 && stride != expected { return false }
            expected *= size
        }
        return true
    }

    static func gather(
        _ source: UnsafeRawPointer, into out: UnsafeMutableRawBufferPointer,
        shape: [Int], strides: [Int], elementSize: Int
    ) {
        guard let destination = out.baseAddress else { return }
        var index = [Int](repeating: 0, count: shape.count)
        var written = 0
        let total = shape.reduce(1, *)
        while written < total {
            var element = 0
            for d in 0..<shape.count { element += index[d] * strides[d] }
            (destination + written * elementSize).copyMemory(from: source + element * elementSize, byteCount: elementSize)
            written += 1
            var d = shape.count - 1
            while d >= 0 {
                index[d] += 1
                if index[d] < shape[d] { break }
                index[d] = 0
                d -= 1
            }
        }
    }
}
