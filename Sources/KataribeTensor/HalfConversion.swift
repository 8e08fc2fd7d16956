/// Widening of IEEE half and bfloat16 bit patterns to `Float`, 8 lanes at a time.
///
/// Works on raw `UInt16` bits so checkpoints never need `Float16` values, and so the same code runs
/// on every platform; the integer form vectorizes well (the compiler lowers it to AVX2 shifts).
public enum HalfConversion {
    @inline(__always)
    public static func halfToFloat(_ bits: SIMD8<UInt16>) -> SIMD8<Float> {
        let h = SIMD8<UInt32>(truncatingIfNeeded: bits)
        let sign = (h & 0x8000) &<< 16
        let magnitude = (h & 0x7fff) &<< 13
        // Rebiasing the exponent by a multiply turns half subnormals into float normals exactly.
        let scaled = unsafeBitCast(magnitude, to: SIMD8<Float>.self) * 0x1p112
        var result = unsafeBitCast(scaled, to: SIMD8<UInt32>.self)
        let infOrNaN = (h & 0x7c00) .== 0x7c00
        result.replace(with: magnitude | 0x7f80_0000, where: infOrNaN)
        return unsafeBitCast(result | sign, to: SIMD8<Float>.self)
    }

    @inline(__always)
    public static func bfloat16ToFloat(_ bits: SIMD8<UInt16>) -> SIMD8<Float> {
        unsafeBitCast(SIMD8<UInt32>(truncatingIfNeeded: bits) &<< 16, to: SIMD8<Float>.self)
    }

    @inline(__always)
    public static func halfToFloat(_ bits: UInt16) -> Float {
        halfToFloat(SIMD8<UInt16>(repeating: bits))[0]
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
