import KataribeCKernels

/// Converts dense weights between float types (e.g. float32 checkpoints run as float16), into
/// memory allocated here. Rounding is to nearest even, like torch's `.to(dtype)`.
enum DenseConversion {
    static func convert(_ tensor: RawTensor, to dtype: DType, parallelism: Parallelism) -> RawTensor {
        if tensor.dtype == dtype { return tensor }
        let count = tensor.elementCount
        let allocation = LargeAllocation(count: count * dtype.size)
        let source = SendableRawPointer(tensor.aligned().baseAddress), sourceType = tensor.dtype
        let out = SendablePointer(allocation.base.assumingMemoryBound(to: UInt8.self))
        let chunk = 1 << 16
        parallelism.forEachChunk(of: (count + chunk - 1) / chunk) { range in
            let floats = UnsafeMutablePointer<Float>.allocate(capacity: chunk)
            defer { floats.deallocate() }
            for piece in range {
                let start = piece * chunk, length = min(chunk, count - start)
                convertToFloat(source.pointer + start * sourceType.size, dtype: sourceType, count: length, into: floats)
                let target = UnsafeMutableRawPointer(out.pointer) + start * dtype.size
                switch dtype {
                case .float16: kc_f32_to_f16(floats, target.assumingMemoryBound(to: UInt16.self), length)
                case .bfloat16:
                    let bits = target.assumingMemoryBound(to: UInt16.self)
                    for i in 0..<length { bits[i] = bfloat16Bits(floats[i]) }
                default: target.assumingMemoryBound(to: Float.self).update(from: floats, count: length)
                }
            }
        }
        return RawTensor(dtype: dtype, shape: tensor.shape, storage: allocation.storage(), byteOffset: 0)
    }

    /// Round to nearest even; NaN stays NaN.
    static func bfloat16Bits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(bits >> 16) | 0x40 }
        let rounding = 0x7fff + ((bits >> 16) & 1)
        return UInt16((bits &+ rounding) >> 16)
    }
}
