/// splitmix64: a small deterministic generator, so a run is repeatable from its seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Structure-blind mutations in the style of libFuzzer's default mutators, plus a per-target
/// dictionary of tokens that matter to the format (JSON punctuation, YAML anchors, pickle opcodes).
struct Mutator {
    var random: SplitMix64
    let dictionary: [[UInt8]]
    let maximumSize: Int

    static let interestingIntegers: [UInt64] = [
        0, 1, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF,
        1 << 32, 1 << 35, 100_000_000, 100_000_001, 0x7FFF_FFFF_FFFF_FFFF, UInt64.max,
    ]

    mutating func int(_ bound: Int) -> Int { bound <= 1 ? 0 : Int(random.next() % UInt64(bound)) }

    /// One input: a seed (sometimes spliced with another) with one to eight stacked mutations.
    mutating func mutate(_ seed: [UInt8], other: [UInt8]) -> [UInt8] {
        var out = seed
        for _ in 0..<(1 + int(8)) { mutateOnce(&out, other: other) }
        if out.count > maximumSize { out.removeSubrange(maximumSize...) }
        return out
    }

    private mutating func mutateOnce(_ out: inout [UInt8], other: [UInt8]) {
        let position = int(out.count + 1)
        switch int(11) {
        case 0 where !out.isEmpty:  // flip a bit
            let i = int(out.count)
            out[i] ^= UInt8(1) << UInt8(int(8))
        case 1 where !out.isEmpty:  // random byte
            out[int(out.count)] = UInt8(truncatingIfNeeded: random.next())
        case 2:  // insert random bytes
            out.insert(contentsOf: (0..<(1 + int(8))).map { _ in UInt8(truncatingIfNeeded: random.next()) }, at: position)
        case 3 where !out.isEmpty:  // erase a range
            let start = int(out.count)
            out.removeSubrange(start..<min(out.count, start + 1 + int(64)))
        case 4 where !out.isEmpty:  // duplicate a range
            let start = int(out.count)
            let chunk = Array(out[start..<min(out.count, start + 1 + int(256))])
            let copies = int(4) == 0 ? 1 + int(64) : 1
            for _ in 0..<copies { out.insert(contentsOf: chunk, at: min(position, out.count)) }
        case 5 where out.count >= 8:  // an interesting integer, little or big endian, 1-8 bytes
            let value = Self.interestingIntegers[int(Self.interestingIntegers.count)] &+ UInt64(bitPattern: Int64(int(3) - 1))
            let width = [1, 2, 4, 8][int(4)]
            let start = int(out.count - width + 1)
            let bigEndian = int(2) == 0
            for k in 0..<width {
                let shift = UInt64(8 * (bigEndian ? width - 1 - k : k))
                out[start + k] = UInt8(truncatingIfNeeded: value >> shift)
            }
        case 6 where !dictionary.isEmpty, 7 where !dictionary.isEmpty:  // a format token, inserted or written over
            let token = dictionary[int(dictionary.count)]
            if int(2) == 0 || out.count < token.count {
                out.insert(contentsOf: token, at: position)
            } else {
                let start = int(out.count - token.count + 1)
                out.replaceSubrange(start..<(start + token.count), with: token)
            }
        case 8 where !other.isEmpty:  // splice in part of another seed
            let start = int(other.count)
            let chunk = other[start..<min(other.count, start + 1 + int(512))]
            out.insert(contentsOf: chunk, at: position)
        case 9 where !out.isEmpty:  // truncate
            out.removeSubrange(int(out.count)...)
        case 10 where out.count > 1:  // swap two bytes
            out.swapAt(int(out.count), int(out.count))
        default:
            out.insert(UInt8(truncatingIfNeeded: random.next()), at: position)
        }
    }
}
