/// sentencepiece's `precompiled_charsmap`: `<u32 trie size><darts-clone double array><NUL-separated
/// replacement strings>`. The trie maps a UTF-8 prefix to an offset into the replacement blob.
/// Shared by the SentencePiece normalizer and the `Precompiled` normalizer of tokenizer.json.
struct PrecompiledCharsMap: Sendable {
    private let units: [UInt32]
    let replacements: [UInt8]

    enum Failure: Error {
        case tooShort, trieTooLarge
    }

    init(_ blob: [UInt8]) throws(Failure) {
        guard blob.count > 4 else { throw .tooShort }
        let trieSize = Int(blob[0]) | Int(blob[1]) << 8 | Int(blob[2]) << 16 | Int(blob[3]) << 24
        guard 4 + trieSize <= blob.count else { throw .trieTooLarge }
        var units = [UInt32](repeating: 0, count: trieSize / 4)
        for i in units.indices {
            let base = 4 + 4 * i
            units[i] = UInt32(blob[base]) | UInt32(blob[base + 1]) << 8 | UInt32(blob[base + 2]) << 16 | UInt32(blob[base + 3]) << 24
        }
        self.units = units
        replacements = Array(blob[(4 + trieSize)...])
    }

    @inline(__always) private static func hasLeaf(_ unit: UInt32) -> Bool { (unit >> 8) & 1 == 1 }
    @inline(__always) private static func value(_ unit: UInt32) -> Int { Int(unit & ((1 << 31) - 1)) }
    @inline(__always) private static func label(_ unit: UInt32) -> UInt32 { unit & ((1 << 31) | 0xFF) }
    @inline(__always) private static func offset(_ unit: UInt32) -> Int { Int((unit >> 10) << ((unit & (1 << 9)) >> 6)) }

    /// Darts' common prefix search over `bytes[start..<end]`: calls `body(length, value)` for each
    /// matching prefix, shortest first, stopping when it returns false. Out-of-range units (a
    /// corrupt blob) end the search instead of trapping.
    @inline(__always)
    func commonPrefixSearch(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int,
                            stopAtNUL: Bool = false, _ body: (Int, Int) -> Bool) {
        units.withUnsafeBufferPointer { units in
            guard !units.isEmpty else { return }
            var node = Self.offset(units[0])
            var i = start
            while i < end {
                let byte = bytes[i]
                if stopAtNUL && byte == 0 { return }
                node ^= Int(byte)
                guard node < units.count else { return }
                let unit = units[node]
                guard Self.label(unit) == UInt32(byte) else { return }
                node ^= Self.offset(unit)
                guard node < units.count else { return }
                i += 1
                if Self.hasLeaf(unit) {
                    if !body(i - start, Self.value(units[node])) { return }
                }
            }
        }
    }

    /// sentencepiece's rule: the longest of (at most 32) matching prefixes.
    @inline(__always)
    func longestMatch(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> (length: Int, value: Int)? {
        var best: (Int, Int)?
        var results = 0
        commonPrefixSearch(bytes, from: start, to: bytes.count) { length, value in
            results += 1
            if results > 32 { return false }
            if best == nil || length > best!.0 { best = (length, value) }
            return true
        }
        return best
    }

    /// `tokenizers`' rule (`Precompiled::transform`): the value of the shortest matching prefix of
    /// the whole chunk, whether or not it covers the chunk.
    func firstMatch(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        var found: Int?
        commonPrefixSearch(bytes, from: 0, to: bytes.count, stopAtNUL: true) { _, value in
            found = value
            return false
        }
        return found
    }

    /// The replacement starting at `offset`: bytes up to the next NUL (or the end of the blob).
    func replacement(at offset: Int) -> ArraySlice<UInt8> {
        guard offset >= 0, offset <= replacements.count else { return [] }
        var end = offset
        while end < replacements.count && replacements[end] != 0 { end += 1 }
        return replacements[offset..<end]
    }
}
