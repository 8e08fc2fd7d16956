import KataribeCKernels

/// Which kernel variants this CPU runs (reported by `kataribe bench`).
public enum KernelInfo {
    /// `avx2` when the CPU has AVX2, FMA and F16C, else `generic`.
    public static var instructionSet: String {
        kc_isa() >= KC_ISA_AVX2 ? "avx2" : "generic"
    }

    /// Runs the portable C kernels even on an AVX2 CPU, on the calling thread only (tests compare
    /// both paths; use `Parallelism.serial` so no worker thread is involved).
    public static func usePortableKernels(_ portable: Bool) {
        kc_force_isa(portable ? Int32(KC_ISA_GENERIC) : kc_isa_detected())
    }
}
