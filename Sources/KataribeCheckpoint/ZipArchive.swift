/// The central directory of a zip archive, enough to find torch's STORED entries inside a
/// memory-mapped file. Supports ZIP64 (torch writes it for checkpoints over 4 GiB).
///
/// Hand-written rather than ZIPFoundation (on the offline list) for zero copy: the weights are
/// used in place from the file mapping, while ZIPFoundation extracts entries through a file
/// handle into new buffers (a 14 GB checkpoint would be read and held twice).
struct ZipArchive {
    struct Entry {
        let name: String
        let compressionMethod: UInt16
        let flags: UInt16
        let compressedSize: Int
        let uncompressedSize: Int
        let localHeaderOffset: Int
    }

    let path: String
    let bytes: UnsafeRawBufferPointer
    private(set) var entries: [String: Entry] = [:]
    private(set) var orderedNames: [String] = []

    static let localHeaderSignature: UInt32 = 0x0403_4b50
    static let centralHeaderSignature: UInt32 = 0x0201_4b50
    static let endSignature: UInt32 = 0x0605_4b50
    static let zip64EndSignature: UInt32 = 0x0606_4b50
    static let zip64LocatorSignature: UInt32 = 0x0706_4b50

    init(path: String, bytes: UnsafeRawBufferPointer) throws(CheckpointError) {
        self.path = path
        self.bytes = bytes
        let reader = ByteReader(bytes)
        func fail(_ why: String) -> CheckpointError { CheckpointError(file: path, .notAZipArchive(why)) }

        // The end record sits in the last 22 + (up to 65535 comment) bytes.
        var endOffset = -1
        var candidate = bytes.count - 22
        let lowest = max(0, bytes.count - 22 - 65_535)
        while candidate >= lowest {
            if reader.u32(at: candidate) == Self.endSignature { endOffset = candidate; break }
            candidate -= 1
        }
        guard endOffset >= 0 else { throw fail("end of central directory not found") }
        guard var entryCount = reader.u16(at: endOffset + 10).map(Int.init),
              var directorySize = reader.u32(at: endOffset + 12).map(Int.init),
              var directoryOffset = reader.u32(at: endOffset + 16).map(Int.init)
        else { throw fail("end of central directory is truncated") }

        if entryCount == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF {
            let locator = endOffset - 20
            guard reader.u32(at: locator) == Self.zip64LocatorSignature,
                  let recordOffset = reader.u64(at: locator + 8), recordOffset < UInt64(bytes.count),
                  reader.u32(at: Int(recordOffset)) == Self.zip64EndSignature,
                  let count64 = reader.u64(at: Int(recordOffset) + 32),
                  let size64 = reader.u64(at: Int(recordOffset) + 40),
                  let offset64 = reader.u64(at: Int(recordOffset) + 48),
                  count64 < UInt64(bytes.count), size64 <= UInt64(bytes.count), offset64 <= UInt64(bytes.count)
            else { throw fail("ZIP64 end of central directory is missing or corrupt") }
            entryCount = Int(count64)
            directorySize = Int(size64)
            directoryOffset = Int(offset64)
        }
        guard reader.canRead(directorySize, at: directoryOffset) else {
            throw fail("central directory lies outside the file")
        }

        var cursor = directoryOffset
        for _ in 0..<entryCount {
            guard reader.u32(at: cursor) == Self.centralHeaderSignature,
                  let flags = reader.u16(at: cursor + 8),
                  let method = reader.u16(at: cursor + 10),
                  let compressed32 = reader.u32(at: cursor + 20),
                  let uncompressed32 = reader.u32(at: cursor + 24),
                  let nameLength = reader.u16(at: cursor + 28).map(Int.init),
                  let extraLength = reader.u16(at: cursor + 30).map(Int.init),
                  let commentLength = reader.u16(at: cursor + 32).map(Int.init),
                  let local32 = reader.u32(at: cursor + 42),
                  let nameBytes = reader.slice(cursor + 46, nameLength),
                  let extra = reader.slice(cursor + 46 + nameLength, extraLength)
            else { throw fail("central directory entry at byte \(cursor) is corrupt") }
            var compressed = UInt64(compressed32), uncompressed = UInt64(uncompressed32), local = UInt64(local32)
            // ZIP64 extra field: only the header fields that overflowed are present, in this order.
            var extraReader = ByteReader(extra)
            while extraReader.remaining >= 4 {
                guard let id = extraReader.readU16(), let size = extraReader.readU16().map(Int.init),
                      var field = extraReader.read(size).map({ ByteReader($0) })
                else { break }
                guard id == 0x0001 else { continue }
                if uncompressed32 == 0xFFFF_FFFF { guard let v = field.readU64() else { break }; uncompressed = v }
                if compressed32 == 0xFFFF_FFFF { guard let v = field.readU64() else { break }; compressed = v }
                if local32 == 0xFFFF_FFFF { guard let v = field.readU64() else { break }; local = v }
            }
            let limit = UInt64(bytes.count)
            guard compressed <= limit, uncompressed <= limit || method != 0, local < limit else {
                throw fail("entry sizes or offsets lie outside the file")
            }
            let name = String(decoding: nameBytes, as: UTF8.self)
            entries[name] = Entry(
                name: name, compressionMethod: method, flags: flags, compressedSize: Int(compressed),
                uncompressedSize: Int(min(uncompressed, limit)), localHeaderOffset: Int(local))
            orderedNames.append(name)
            cursor += 46 + nameLength + extraLength + commentLength
        }
    }

    /// The bytes of a STORED entry, located through its local header (whose extra field torch
    /// uses to pad data to 64-byte alignment).
    func data(of name: String) throws(CheckpointError) -> (offset: Int, count: Int) {
        guard let entry = entries[name] else { throw CheckpointError(file: path, .missingEntry(name)) }
        guard entry.compressionMethod == 0 else { throw CheckpointError(file: path, .compressedEntry(name)) }
        guard entry.flags & 1 == 0 else { throw CheckpointError(file: path, .notAZipArchive("entry '\(name)' is encrypted")) }
        let reader = ByteReader(bytes)
        guard reader.u32(at: entry.localHeaderOffset) == Self.localHeaderSignature,
              let nameLength = reader.u16(at: entry.localHeaderOffset + 26),
              let extraLength = reader.u16(at: entry.localHeaderOffset + 28)
        else { throw CheckpointError(file: path, .notAZipArchive("local header of '\(name)' is corrupt")) }
        let start = entry.localHeaderOffset + 30 + Int(nameLength) + Int(extraLength)
        guard reader.canRead(entry.compressedSize, at: start) else {
            throw CheckpointError(file: path, .truncated("entry '\(name)' runs past the end of the file"))
        }
        return (start, entry.compressedSize)
    }
}
