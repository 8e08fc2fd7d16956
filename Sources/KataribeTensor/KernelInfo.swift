import KataribeCKernels

/// Which kernel variants this CPU runs (reported by `kataribe bench`).
public enum KernelInfo {
    /// `avx512` when the CPU also has AVX-512 F/BW/VL and VNNI (int8 GEMV and prompt GEMM, the
    /// GGML GEMVs; other kernels run their AVX2 versions), `avx2` when it has AVX2, FMA and F16C,
    /// else `generic`.
    public static var instructionSet: String {
        let isa = kc_isa()
        return isa >= KC_ISA_AVX512 ? "avx512" : isa >= KC_ISA_AVX2 ? "avx2" : "generic"
    }

    /// Whether `--dtype bf16` prompts run on AVX-512 BF16 (`vdpbf16ps`).
    public static var hasBFloat16Products: Bool { kc_gemm_bf16_available() != 0 }

    /// Runs the portable C kernels even on an AVX2 CPU, on the calling thread only (tests compare
    /// both paths; use `Parallelism.serial` so no worker thread is involved).
    public static func usePortableKernels(_ portable: Bool) {
        kc_force_isa(portable ? Int32(KC_ISA_GENERIC) : kc_isa_detected())
    }
}
