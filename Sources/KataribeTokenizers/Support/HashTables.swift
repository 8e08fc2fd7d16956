/// Hash maps keyed by exact bytes or by packed integers. Swift `Dictionary<String, _>` is not an
/// option for vocabularies: `String` equality is canonical equivalence, so "é" and "e\u{301}"
/// would collide. These tables also avoid SipHash on the encode hot path.

@inline(__always)
func hashBytes(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
    // FNV-1a with a final avalanche; keys are short (tokens, words).
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes {
        hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
    }
    return mix(hash)
}

@inline(__always)
func mix(_ value: UInt64) -> UInt64 {
    var x = value
    x ^= x >> 33
    x = x &* 0xff51_afd7_ed55_8ccd
    x ^= x >> 33
    x = x &* 0xc4ce_b9fe_1a85_ec53
    x ^= x >> 33
    return x
}

/// Byte-string keys to `Int32` values. Keys live in one arena; slots hold (offset, length, value).
struct BytesMap: Sendable {
    private var arena: [UInt8] = []
    private var slotOffsets: [Int32]
    private var slotLengths: [Int32]
    private var slotValues: [Int32]
    private var mask: Int
    private(set) var count = 0

    init(capacity: Int = 16) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slotOffsets = [Int32](repeating: -1, count: size)
        slotLengths = [Int32](repeating: 0, count: size)
        slotValues = [Int32](repeating: 0, count: size)
        mask = size - 1
    }

    subscript<C: Collection>(key: C) -> Int32? where C.Element == UInt8 {
        let bytes = Array(key)
        return bytes.withUnsafeBufferPointer { get($0) }
    }

    @inline(__always)
    func get(_ key: UnsafeBufferPointer<UInt8>) -> Int32? {
        var slot = Int(truncatingIfNeeded: hashBytes(key)) & mask
        return arena.withUnsafeBufferPointer { arena in
            while true {
                let offset = Int(slotOffsets[slot])
                if offset < 0 { return nil }
                if Int(slotLengths[slot]) == key.count && memoryEqual(arena, offset, key) {
                    return slotValues[slot]
                }
                slot = (slot + 1) & mask
            }
        }
    }

    @inline(__always)
    private func memoryEqual(_ arena: UnsafeBufferPointer<UInt8>, _ offset: Int, _ key: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        while i < key.count {
            if arena[offset + i] != key[i] { return false }
            i += 1
        }
        return true
    }

    /// Inserts or replaces. Returns the previous value.
    @discardableResult
    mutating func set<C: Collection>(_ key: C, _ value: Int32) -> Int32? where C.Element == UInt8 {
        let bytes = Array(key)
        if (count + 1) * 2 > slotOffsets.count { grow() }
        return bytes.withUnsafeBufferPointer { key -> Int32? in
            var slot = Int(truncatingIfNeeded: hashBytes(key)) & mask
            while true {
                let offset = Int(slotOffsets[slot])
                if offset < 0 {
                    slotOffsets[slot] = Int32(arena.count)
                    slotLengths[slot] = Int32(key.count)
                    slotValues[slot] = value
                    arena.append(contentsOf: key)
                    count += 1
                    return nil
                }
                let matches = arena.withUnsafeBufferPointer { arena in
                    Int(slotLengths[slot]) == key.count && memoryEqual(arena, offset, key)
                }
                if matches {
                    let previous = slotValues[slot]
                    slotValues[slot] = value
                    return previous
                }
                slot = (slot + 1) & mask
            }
        }
    }

    private mutating func grow() {
        let oldOffsets = slotOffsets, oldLengths = slotLengths, oldValues = slotValues
        let size = oldOffsets.count * 2
        slotOffsets = [Int32](repeating: -1, count: size)
        slotLengths = [Int32](repeating: 0, count: size)
        slotValues = [Int32](repeating: 0, count: size)
        mask = size - 1
        arena.withUnsafeBufferPointer { arena in
            for old in oldOffsets.indices where oldOffsets[old] >= 0 {
                let key = UnsafeBufferPointer(rebasing: arena[Int(oldOffsets[old])..<(Int(oldOffsets[old]) + Int(oldLengths[old]))])
                var slot = Int(truncatingIfNeeded: hashBytes(key)) & mask
                while slotOffsets[slot] >= 0 { slot = (slot + 1) & mask }
                slotOffsets[slot] = oldOffsets[old]
                slotLengths[slot] = oldLengths[old]
                slotValues[slot] = oldValues[old]
            }
        }
    }
}

/// `UInt64` keys to `UInt64` values (BPE merges: packed id pair -> packed rank and new id).
struct IntegerMap: Sendable {
    private var keys: [UInt64]
    private var values: [UInt64]
    private var occupied: [Bool]
    private var mask: Int
    private(set) var count = 0

    init(capacity: Int = 16) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        keys = [UInt64](repeating: 0, count: size)
        values = [UInt64](repeating: 0, count: size)
        occupied = [Bool](repeating: false, count: size)
        mask = size - 1
    }

    @inline(__always)
    func get(_ key: UInt64) -> UInt64? {
        keys.withUnsafeBufferPointer { keys in
            occupied.withUnsafeBufferPointer { occupied in
                var slot = Int(truncatingIfNeeded: mix(key)) & mask
                while occupied[slot] {
                    if keys[slot] == key { return values[slot] }
                    slot = (slot + 1) & mask
                }
                return nil
            }
        }
    }

    /// Inserts when absent; keeps the existing value otherwise. Returns true when inserted.
    @discardableResult
    mutating func insertIfAbsent(_ key: UInt64, _ value: UInt64) -> Bool {
        if (count + 1) * 2 > keys.count { grow() }
        var slot = Int(truncatingIfNeeded: mix(key)) & mask
        while occupied[slot] {
            if keys[slot] == key { return false }
            slot = (slot + 1) & mask
        }
        occupied[slot] = true
        keys[slot] = key
        values[slot] = value
        count += 1
        return true
    }

    mutating func set(_ key: UInt64, _ value: UInt64) {
        if (count + 1) * 2 > keys.count { grow() }
        var slot = Int(truncatingIfNeeded: mix(key)) & mask
        while occupied[slot] {
            if keys[slot] == key { values[slot] = value; return }
            slot = (slot + 1) & mask
        }
        occupied[slot] = true
        keys[slot] = key
        values[slot] = value
        count += 1
    }

    private mutating func grow() {
        let oldKeys = keys, oldValues = values, oldOccupied = occupied
        let size = keys.count * 2
        keys = [UInt64](repeating: 0, count: size)
        values = [UInt64](repeating: 0, count: size)
        occupied = [Bool](repeating: false, count: size)
        mask = size - 1
        count = 0
        for i in oldKeys.indices where oldOccupied[i] { set(oldKeys[i], oldValues[i]) }
    }
}
