import Foundation

/// The four Unicode normalization forms over UTF-8 bytes.
///
/// Foundation on Linux does the work, with two corrections verified against Python's unicodedata
/// (which the Rust `tokenizers` crate agrees with): NFKC is computed as NFC(NFKD(x)) because
/// Foundation's compatibility composition leaves some sequences (e.g. half-width "ｶﾞ") decomposed,
/// and runs of "stable" scalars (see `NormalizationQuickCheckTables`) are copied without calling
/// Foundation at all, which keeps NFC off the profile for ordinary Japanese text.
enum NormalizationForm: Sendable {
    case nfc, nfd, nfkc, nfkd

    private var stableRanges: [UInt32] {
        switch self {
        case .nfc: return NormalizationQuickCheckTables.nfcStable
        case .nfd: return NormalizationQuickCheckTables.nfdStable
        case .nfkc: return NormalizationQuickCheckTables.nfkcStable
        case .nfkd: return NormalizationQuickCheckTables.nfkdStable
        }
    }

    private var bmpStable: StableBitmap {
        switch self {
        case .nfc: return StableBitmap.nfc
        case .nfd: return StableBitmap.nfd
        case .nfkc: return StableBitmap.nfkc
        case .nfkd: return StableBitmap.nfkd
        }
    }

    /// True when `scalar` alone is unchanged by the form and cannot interact with its neighbours.
    @inline(__always)
    func isStable(_ scalar: UInt32) -> Bool {
        if scalar < 0x80 { return true }
        if scalar < 0x10000 { return bmpStable.contains(scalar) }
        let ranges = stableRanges
        var low = 0, high = ranges.count / 2
        while low < high {
            let mid = (low + high) / 2
            if ranges[2 * mid + 1] < scalar { low = mid + 1 } else { high = mid }
        }
        return low < ranges.count / 2 && ranges[2 * low] <= scalar
    }

    /// Normalizes valid UTF-8. Unstable stretches are normalized together with the stable scalar
    /// before them (it may be a starter that composes with what follows).
    func apply(_ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBufferPointer { buffer -> [UInt8] in
            // Fast scan: all stable means unchanged.
            var i = 0
            var firstUnstable = -1
            var lastStableStart = 0
            while i < buffer.count {
                let lead = buffer[i]
                if lead < 0x80 { lastStableStart = i; i += 1; continue }
                let (scalar, length) = UTF8Bytes.decode(buffer, at: i)
                if !isStable(scalar) { firstUnstable = i; break }
                lastStableStart = i
                i += length
            }
            if firstUnstable < 0 { return bytes }
            var out: [UInt8] = []
            out.reserveCapacity(buffer.count + 16)
            var copied = 0
            // The segment to normalize starts at the stable scalar before the first unstable one.
            var segmentStart = firstUnstable > 0 ? lastStableStart : 0
            i = firstUnstable
            while i < buffer.count {
                // Extend over unstable scalars.
                while i < buffer.count {
                    let (scalar, length) = UTF8Bytes.decode(buffer, at: i)
                    if isStable(scalar) { break }
                    i += length
                }
                out.append(contentsOf: buffer[copied..<segmentStart])
                out.append(contentsOf: normalizeWithFoundation(UnsafeBufferPointer(rebasing: buffer[segmentStart..<i])))
                copied = i
                // Skip stable scalars, remembering the last one.
                var nextUnstable = -1
                var lastStable = i
                while i < buffer.count {
                    let (scalar, length) = UTF8Bytes.decode(buffer, at: i)
                    if !isStable(scalar) { nextUnstable = i; break }
                    lastStable = i
                    i += length
                }
                if nextUnstable < 0 { break }
                segmentStart = max(lastStable, copied)
                i = nextUnstable
            }
            out.append(contentsOf: buffer[copied..<buffer.count])
            return out
        }
    }

    private func normalizeWithFoundation(_ segment: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        let string = String(decoding: segment, as: Unicode.UTF8.self)
        let result: String
        switch self {
        case .nfc: result = string.precomposedStringWithCanonicalMapping
        case .nfd: result = string.decomposedStringWithCanonicalMapping
        case .nfkd: result = string.decomposedStringWithCompatibilityMapping
        case .nfkc: result = string.decomposedStringWithCompatibilityMapping.precomposedStringWithCanonicalMapping
        }
        return Array(result.utf8)
    }
}

/// One bit per BMP scalar, built from the range tables on first use.
struct StableBitmap: Sendable {
    private var words: [UInt64]

    init(ranges: [UInt32]) {
        words = [UInt64](repeating: 0, count: 0x10000 / 64)
        var index = 0
        while index + 1 < ranges.count {
            let low = ranges[index], high = min(ranges[index + 1], 0xFFFF)
            index += 2
            guard low <= 0xFFFF, low <= high else { continue }
            for scalar in low...high { words[Int(scalar >> 6)] |= 1 << UInt64(scalar & 63) }
        }
    }

    @inline(__always)
    func contains(_ scalar: UInt32) -> Bool {
        words.withUnsafeBufferPointer { ($0[Int(scalar >> 6)] >> UInt64(scalar & 63)) & 1 == 1 }
    }

    static let nfc = StableBitmap(ranges: NormalizationQuickCheckTables.nfcStable)
    static let nfd = StableBitmap(ranges: NormalizationQuickCheckTables.nfdStable)
    static let nfkc = StableBitmap(ranges: NormalizationQuickCheckTables.nfkcStable)
    static let nfkd = StableBitmap(ranges: NormalizationQuickCheckTables.nfkdStable)
}
