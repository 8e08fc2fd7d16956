import KataribeCKernels

/// Widening of IEEE half and bfloat16 bit patterns to `Float`.
///
/// Works on raw `UInt16` bits as stored in checkpoints.
public enum HalfConversion {
    @inline(__always)
    public static func bfloat16ToFloat(_ bits: SIMD8<UInt16>) -> SIMD8<Float> {
        // Spelled lane by lane: the generic SIMD8(truncatingIfNeeded:) is not inlined into the
        // kernels and runs as a scalar loop (measured 4x slower than float32 weights).
        let wide = SIMD8<UInt32>(
            UInt32(bits[0]), UInt32(bits[1]), UInt32(bits[2]), UInt32(bits[3]),
            UInt32(bits[4]), UInt32(bits[5]), UInt32(bits[6]), UInt32(bits[7]))
        return unsafeBitCast(wide &<< 16, to: SIMD8<Float>.self)
    }

    @inline(__always)
    public static func bfloat16ToFloat(_ bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    public static func halfToFloat(_ source: UnsafePointer<UInt16>, _ out: UnsafeMutablePointer<Float>, count: Int) {
        // The C kernel picks vcvtph2ps at run time. Swift's Float16 → Float is one instruction only
        // when the whole build targets F16C; a portable build calls a software routine per value,
        // which made widening a 7 GB float16 checkpoint to bfloat16 take seconds.
        kc_f16_to_f32(source, out, count)
    }

    public static func bfloat16ToFloat(_ source: UnsafePointer<UInt16>, _ out: UnsafeMutablePointer<Float>, count: Int) {
        let raw = UnsafeRawPointer(source)
        let outRaw = UnsafeMutableRawPointer(out)
        var i = 0
        while i + 8 <= count {
            let v = raw.loadUnaligned(fromByteOffset: i * 2, as: SIMD8<UInt16>.self)
            outRaw.storeBytes(of: bfloat16ToFloat(v), toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        while i < count {
            out[i] = bfloat16ToFloat(source[i])
            i += 1
        }
    }
}
