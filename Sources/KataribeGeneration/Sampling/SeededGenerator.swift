/// Kataribe's sampling random numbers: **xoshiro256\*\*** (Blackman & Vigna, 2018) whose 256-bit
/// state is filled with four consecutive outputs of **SplitMix64** started at the seed.
///
/// - A uniform double in [0, 1) is `Double(next() >> 11) * 2^-53` (the top 53 bits).
/// - Sample `i` of a request (for `num_return_sequences` / `n`) uses seed `base &+ i`, so sample 0
///   equals a single-sample run with the same seed, and each sample is independent of how many
///   others are drawn or in which order/thread they run.
///
/// It does not reproduce torch's generator; it makes Kataribe runs reproducible.
public struct SeededGenerator: RandomNumberGenerator, Sendable, Equatable {
    private var s0, s1, s2, s3: UInt64

    public init(seed: UInt64) {
        var splitMix = SplitMix64(state: seed)
        s0 = splitMix.next()
        s1 = splitMix.next()
        s2 = splitMix.next()
        s3 = splitMix.next()
    }

    /// The generator for sample `sampleIndex` of a request seeded with `seed`.
    public init(seed: UInt64, sampleIndex: Int) {
        self.init(seed: Self.sampleSeed(seed, sampleIndex: sampleIndex))
    }

    public static func sampleSeed(_ seed: UInt64, sampleIndex: Int) -> UInt64 {
        seed &+ UInt64(truncatingIfNeeded: sampleIndex)
    }

    public mutating func next() -> UInt64 {
        let result = rotateLeft(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotateLeft(s3, 45)
        return result
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func nextUnitInterval() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    @inline(__always) private func rotateLeft(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
}

/// SplitMix64 (Steele, Lea & Flood), used only to expand a 64-bit seed into generator state.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64

    public init(state: UInt64) { self.state = state }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
