import Foundation
import KataribeTestSupport
@testable import KataribeCheckpoint

/// A fresh temporary directory per call.
func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("kataribe-ckpt-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

func writeTemporaryFile(_ bytes: [UInt8], name: String = "file.bin") throws -> URL {
    let url = try temporaryDirectory().appendingPathComponent(name)
    try Data(bytes).write(to: url)
    return url
}

func fixtureBytes(_ path: String) throws -> [UInt8] {
    Array(try Data(contentsOf: TestPaths.fixture("engine/" + path)))
}

/// The reason a checkpoint read failed, or nil if it did not fail with a CheckpointError.
func failure(_ body: () throws -> Void) -> CheckpointError.Reason? {
    do {
        try body()
        return nil
    } catch let error as CheckpointError {
        return error.reason
    } catch {
        return nil
    }
}

/// Builds zip archives with STORED (or claimed-DEFLATED) entries, optionally in ZIP64 form.
struct ZipBuilder {
    var entries: [(name: String, data: [UInt8], method: UInt16)] = []

    mutating func add(_ name: String, _ data: [UInt8], method: UInt16 = 0) {
        entries.append((name, data, method))
    }

    func build(zip64: Bool = false) -> [UInt8] {
        var out: [UInt8] = []
        var central: [UInt8] = []
        func u16(_ v: Int, _ into: inout [UInt8]) { into += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
        func u32(_ v: Int, _ into: inout [UInt8]) { for i in 0..<4 { into.append(UInt8(v >> (8 * i) & 0xFF)) } }
        func u64(_ v: Int, _ into: inout [UInt8]) { for i in 0..<8 { into.append(UInt8(v >> (8 * i) & 0xFF)) } }
        for entry in entries {
            let offset = out.count
            let name = Array(entry.name.utf8)
            u32(0x0403_4b50, &out); u16(20, &out); u16(0, &out); u16(Int(entry.method), &out)
            u16(0, &out); u16(0, &out); u32(0, &out)
            u32(entry.data.count, &out); u32(entry.data.count, &out)
            u16(name.count, &out); u16(0, &out)
            out += name
            out += entry.data

            u32(0x0201_4b50, &central); u16(45, &central); u16(45, &central); u16(0, &central)
            u16(Int(entry.method), &central); u16(0, &central); u16(0, &central); u32(0, &central)
            u32(zip64 ? 0xFFFF_FFFF : entry.data.count, &central)
            u32(zip64 ? 0xFFFF_FFFF : entry.data.count, &central)
            u16(name.count, &central); u16(zip64 ? 28 : 0, &central); u16(0, &central)
            u16(0, &central); u16(0, &central); u32(0, &central)
            u32(zip64 ? 0xFFFF_FFFF : offset, &central)
            central += name
            if zip64 {
                u16(1, &central); u16(24, &central)
                u64(entry.data.count, &central); u64(entry.data.count, &central); u64(offset, &central)
            }
        }
        let centralOffset = out.count
        out += central
        if zip64 {
            let recordOffset = out.count
            u32(0x0606_4b50, &out); u64(44, &out); u16(45, &out); u16(45, &out); u32(0, &out); u32(0, &out)
            u64(entries.count, &out); u64(entries.count, &out); u64(central.count, &out); u64(centralOffset, &out)
            u32(0x0706_4b50, &out); u32(0, &out); u64(recordOffset, &out); u32(1, &out)
        }
        u32(0x0605_4b50, &out); u16(0, &out); u16(0, &out)
        u16(zip64 ? 0xFFFF : entries.count, &out); u16(zip64 ? 0xFFFF : entries.count, &out)
        u32(zip64 ? 0xFFFF_FFFF : central.count, &out); u32(zip64 ? 0xFFFF_FFFF : centralOffset, &out)
        u16(0, &out)
        return out
    }

    /// Every entry of an existing zip file, re-packed.
    static func repacking(_ bytes: [UInt8]) throws -> ZipBuilder {
        var builder = ZipBuilder()
        try bytes.withUnsafeBytes { raw in
            let archive = try ZipArchive(path: "source", bytes: raw)
            for name in archive.orderedNames {
                let (offset, count) = try archive.data(of: name)
                builder.add(name, Array(raw[offset..<(offset + count)]))
            }
        }
        return builder
    }
}

/// Pickle opcode helpers for hand-written (never executed) hostile pickles.
enum PickleBytes {
    static func global(_ module: String, _ name: String) -> [UInt8] {
        [0x63] + Array("\(module)\n\(name)\n".utf8)
    }

    static func unicode(_ text: String) -> [UInt8] {
        let bytes = Array(text.utf8)
        let n = bytes.count
        return [0x58, UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), 0, 0] + bytes
    }

    /// `module.name(argument)` — what a malicious checkpoint would ask the unpickler to call.
    static func call(_ module: String, _ name: String, _ argument: String) -> [UInt8] {
        [0x80, 0x02] + global(module, name) + unicode(argument) + [0x85, 0x52, 0x2E]
    }

    static func torchZip(pickle: [UInt8]) -> [UInt8] {
        var zip = ZipBuilder()
        zip.add("archive/data.pkl", pickle)
        zip.add("archive/byteorder", Array("little".utf8))
        return zip.build()
    }
}
