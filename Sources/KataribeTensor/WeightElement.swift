/// How a kernel reads one stored weight dtype as `Float`s. Kernels are generic over this so each
/// dtype gets its own specialized loop; new formats (int8, 4-bit blocks) need their own kernels
/// because they carry scales, so they plug in at `WeightMatrix`'s dtype switch instead.
@usableFromInline
protocol WeightElement: SendableMetatype {
    static func load8(_ base: UnsafeRawPointer, _ index: Int) -> SIMD8<Float>
    static func load1(_ base: UnsafeRawPointer, _ index: Int) -> Float
}

@usableFromInline
enum Float32Element: WeightElement {
    @inline(__always) @usableFromInline
    static func load8(_ base: UnsafeRawPointer, _ index: Int) -> SIMD8<Float> {
        base.loadUnaligned(fromByteOffset: index &* 4, as: SIMD8<Float>.self)
    }
    @inline(__always) @usableFromInline
    static func load1(_ base: UnsafeRawPointer, _ index: Int) -> Float {
        base.loadUnaligned(fromByteOffset: index &* 4, as: Float.self)
    }
}

@usableFromInline
enum Float16Element: WeightElement {
    @inline(__always) @usableFromInline
    static func load8(_ base: UnsafeRawPointer, _ index: Int) -> SIMD8<Float> {
        HalfConversion.halfToFloat(base.loadUnaligned(fromByteOffset: index &* 2, as: SIMD8<UInt16>.self))
    }
    @inline(__always) @usableFromInline
    static func load1(_ base: UnsafeRawPointer, _ index: Int) -> Float {
        HalfConversion.halfToFloat(base.loadUnaligned(fromByteOffset: index &* 2, as: UInt16.self))
    }
}

@usableFromInline
enum BFloat16Element: WeightElement {
    @inline(__always) @usableFromInline
    static func load8(_ base: UnsafeRawPointer, _ index: Int) -> SIMD8<Float> {
        HalfConversion.bfloat16ToFloat(base.loadUnaligned(fromByteOffset: index &* 2, as: SIMD8<UInt16>.self))
    }
    @inline(__always) @usableFromInline
    static func load1(_ base: UnsafeRawPointer, _ index: Int) -> Float {
        HalfConversion.bfloat16ToFloat(base.loadUnaligned(fromByteOffset: index &* 2, as: UInt16.self))
    }
}
