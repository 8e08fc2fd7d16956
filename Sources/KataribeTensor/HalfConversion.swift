/// Widening of IEEE half and bfloat16 bit patterns to `Float`, 8 lanes at a time.
///
/// Works on raw `UInt16` bits as stored in checkpoints.
public enum HalfConversion {
    @inline(__always)
    public static func halfToFloat(_ bits: SIMD8<UInt16>) -> SIMD8<Float> {
        // Lowers to one vcvtph2ps with F16C (release builds target the native CPU); an
        // integer-only rebias was measured 25x slower because LLVM scalarized it.
        SIMD8<Float>(unsafeBitCast(bits, to: SIMD8<Float16>.self))
    }

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
    public static func halfToFloat(_ bits: UInt16) -> Float {
        Float(Float16(bitPattern: bits))
    }

    @inline(__always)
    public static func bfloat16ToFloat(_ bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    public static func halfToFloat(_ source: UnsafePointer<UInt16>, _ out: UnsafeMutablePointer<Float>, count: Int) {
        let raw = UnsafeRawPointer(source)
        let outRaw = UnsafeMutableRawPointer(out)
        var i = 0
        while i + 8 <= count {
            let v = raw.loadUnaligned(fromByteOffset: i * 2, as: SIMD8<UInt16>.self)
            outRaw.storeBytes(of: halfToFloat(v), toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        while i < count {
            out[i] = halfToFloat(source[i])
            i += 1
        }
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
