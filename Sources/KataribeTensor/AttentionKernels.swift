import KataribeCKernels

/// The attention kernels over a KV cache stored as float32 or float16 rows (AVX2 with a
/// portable fallback, chosen at run time). `Attention` in KataribeModels is their only caller.
public enum AttentionKernels {
    /// scores[j] = (query · keys[j]) · scale for j < count; keys are `count` rows of `dim`.
    @inline(__always)
    public static func scores(query: UnsafePointer<Float>, keys: UnsafeRawPointer, float16: Bool, dim: Int, count: Int,
                              scale: Float, into scores: UnsafeMutablePointer<Float>) {
        kc_attention_scores(query, keys, float16 ? 1 : 0, dim, count, scale, scores)
    }

    /// out = Σ_j weights[j] · values[j] over `count` rows of `dim` (`accumulating`: out += the sum,
    /// continuing each column's sum in order, so two segments give the bits of one call).
    @inline(__always)
    public static func weightedValues(_ weights: UnsafePointer<Float>, values: UnsafeRawPointer, float16: Bool, dim: Int,
                                      count: Int, accumulating: Bool = false, into out: UnsafeMutablePointer<Float>) {
        kc_attention_values(weights, values, float16 ? 1 : 0, dim, count, out, accumulating ? 1 : 0)
    }

    /// Writes `count` floats as IEEE half precision (round to nearest even).
    @inline(__always)
    public static func storeFloat16(_ source: UnsafePointer<Float>, into target: UnsafeMutableRawPointer, count: Int) {
        kc_f32_to_f16(source, target.assumingMemoryBound(to: UInt16.self), count)
    }
}
