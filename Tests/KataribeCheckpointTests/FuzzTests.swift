import Foundation
import Testing
import KataribeTensor
import KataribeTestSupport
@testable import KataribeCheckpoint

/// Damaged files must produce errors, never crashes or out-of-bounds reads.
@Suite("Fuzzing the readers")
struct FuzzTests {
    struct Generator {
        var state: UInt64
        mutating func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(max(bound, 1)))
        }
    }

    /// Flips bytes (mostly in the structured regions: start and end of the file) or truncates.
    func mutate(_ bytes: [UInt8], _ g: inout Generator) -> [UInt8] {
        var out = bytes
        if g.next(4) == 0 {
            return Array(out[..<g.next(out.count)])
        }
        for _ in 0...g.next(8) {
            let region = g.next(3)
            let position = switch region {
            case 0: g.next(min(4096, out.count))
            case 1: out.count - 1 - g.next(min(2048, out.count))
            default: g.next(out.count)
            }
            out[position] = g.next(2) == 0 ? UInt8(g.next(256)) : out[position] ^ UInt8(1 << g.next(8))
        }
        return out
    }

    func fuzz(_ fixture: String, iterations: Int, read: (URL) throws -> TensorCollection) throws {
        let original = try fixtureBytes(fixture)
        let directory = try temporaryDirectory()
        var g = Generator(state: 0x5eed)
        var failures = 0
        for i in 0..<iterations {
            let url = directory.appendingPathComponent("case-\(i)")
            try Data(mutate(original, &g)).write(to: url)
            do {
                let tensors = try read(url)
                // Touch every byte a tensor claims, to catch out-of-range views.
                for name in tensors.names {
                    guard let tensor = tensors[name] else { continue }
                    _ = tensor.bytes.reduce(0) { $0 &+ Int($1) }
                }
            } catch is CheckpointError {
                failures += 1
            }
            try? FileManager.default.removeItem(at: url)
        }
        #expect(failures > 0)
    }

    @Test("random flips and truncations of a safetensors file only ever throw")
    func safetensors() throws {
        try fuzz("models/seq-f32-safetensors/model.safetensors", iterations: 300, read: SafetensorsReader.read(url:))
    }

    @Test("random flips and truncations of a torch .bin only ever throw")
    func torchZip() throws {
        try fuzz("models/seq-rot25-f16-bin/pytorch_model.bin", iterations: 300, read: TorchCheckpointReader.read(url:))
    }
}
