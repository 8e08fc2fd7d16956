import Foundation
import Testing
import KataribeTensor
import KataribeTestSupport
@testable import KataribeCheckpoint

@Suite("torch zip checkpoints")
struct TorchCheckpointTests {
    struct Expected: Decodable {
        let shape: [Int]
        let dtype: String
        let values: [Float]
    }

    func expectMatchesReference(_ tensors: TensorCollection) throws {
        let reference = try JSONDecoder().decode(
            [String: Expected].self, from: Data(contentsOf: TestPaths.fixture("engine/tensors/mixed.json")))
        #expect(Set(tensors.names) == Set(reference.keys))
        for (name, expected) in reference {
            let tensor = try #require(tensors[name])
            #expect(tensor.shape == expected.shape, "\(name)")
            #expect(tensor.dtype.description == expected.dtype, "\(name)")
            let values: [Float]
            switch tensor.dtype {
            case .bool, .uint8: values = tensor.bytes.map { Float($0) }
            default: values = try #require(tensor.floats())
            }
            #expect(values == expected.values, "\(name)")
        }
    }

    @Test("strided, offset, bool, uint8, scalar and shared-storage tensors read back exactly")
    func mixedTensors() throws {
        try expectMatchesReference(TorchCheckpointReader.read(url: TestPaths.fixture("engine/tensors/mixed.bin")))
    }

    @Test("the same archive re-packed as ZIP64 reads the same")
    func zip64() throws {
        let repacked = try ZipBuilder.repacking(fixtureBytes("tensors/mixed.bin")).build(zip64: true)
        try expectMatchesReference(TorchCheckpointReader.read(url: writeTemporaryFile(repacked)))
    }

    @Test("nn.Parameter values rebuilt through _rebuild_parameter are plain tensors")
    func parameter() throws {
        let tensors = try TorchCheckpointReader.read(url: TestPaths.fixture("engine/tensors/parameter.bin"))
        #expect(tensors["weight"]?.floats() == [1, 1, 1, 1])
    }

    @Test("a full transformers state dict (with old causal-mask buffers) loads")
    func stateDict() throws {
        let tensors = try TorchCheckpointReader.read(url: TestPaths.fixture("engine/models/seq-rot25-f16-bin/pytorch_model.bin"))
        #expect(tensors["gpt_neox.layers.0.attention.bias"]?.dtype == .bool)
        #expect(tensors["gpt_neox.layers.0.attention.bias"]?.shape == [1, 1, 64, 64])
        #expect(tensors["gpt_neox.embed_in.weight"]?.dtype == .float16)
        #expect(tensors.format == "pytorch")
    }

    @Test("a pickle calling os.system is refused by name, never executed")
    func foreignGlobal() throws {
        let marker = FileManager.default.temporaryDirectory.appendingPathComponent("kataribe-pwned-\(UUID().uuidString)")
        let pickle = PickleBytes.call("os", "system", "touch \(marker.path)")
        let url = try writeTemporaryFile(PickleBytes.torchZip(pickle: pickle))
        do {
            _ = try TorchCheckpointReader.read(url: url)
            Issue.record("expected an error")
        } catch {
            #expect(error.reason == .forbiddenGlobal("os.system"))
            #expect(error.description.contains("os.system"))
            #expect(error.file == url.path)
        }
        #expect(!FileManager.default.fileExists(atPath: marker.path))
    }

    @Test("builtins.eval via STACK_GLOBAL (protocol 4) is refused too")
    func stackGlobal() throws {
        let pickle: [UInt8] = [0x80, 0x04, 0x8C, 8] + Array("builtins".utf8) + [0x8C, 4] + Array("eval".utf8)
            + [0x93] + PickleBytes.unicode("1+1") + [0x85, 0x52, 0x2E]
        #expect(failure { _ = try TorchCheckpointReader.read(url: writeTemporaryFile(PickleBytes.torchZip(pickle: pickle))) }
                == .forbiddenGlobal("builtins.eval"))
    }

    @Test("a forbidden global hidden inside an otherwise valid state dict is refused")
    func nestedForbiddenGlobal() throws {
        let pickle: [UInt8] = [0x80, 0x02] + PickleBytes.global("collections", "OrderedDict") + [0x29, 0x52, 0x28]
            + PickleBytes.unicode("x") + PickleBytes.global("subprocess", "check_output") + PickleBytes.unicode("ls")
            + [0x85, 0x52, 0x75, 0x2E]
        #expect(failure { _ = try TorchCheckpointReader.read(url: writeTemporaryFile(PickleBytes.torchZip(pickle: pickle))) }
                == .forbiddenGlobal("subprocess.check_output"))
    }

    @Test("unknown opcodes and stack underflow are typed errors")
    func malformedPickles() throws {
        guard case .unsupportedOpcode(0x69, _) = failure({
            _ = try TorchCheckpointReader.read(url: writeTemporaryFile(PickleBytes.torchZip(pickle: [0x80, 0x02, 0x69, 0x2E])))
        }) else { Issue.record("INST must be refused"); return }
        guard case .malformedPickle = failure({
            _ = try TorchCheckpointReader.read(url: writeTemporaryFile(PickleBytes.torchZip(pickle: [0x80, 0x02, 0x52, 0x2E])))
        }) else { Issue.record("REDUCE on an empty stack"); return }
        guard case .malformedPickle = failure({
            _ = try TorchCheckpointReader.read(url: writeTemporaryFile(PickleBytes.torchZip(pickle: [0x80, 0x02, 0x4E, 0x2E])))
        }) else { Issue.record("a top-level None is not a state dict"); return }
    }

    @Test("a pre-zip (torch < 1.6) file is reported as an unsupported legacy format")
    func legacy() throws {
        let reason = failure { _ = try TorchCheckpointReader.read(url: TestPaths.fixture("engine/bad/legacy.bin")) }
        #expect(reason == .legacyTorchFormat)
        #expect(CheckpointError(file: "x", .legacyTorchFormat).description.contains("unsupported legacy format"))
    }

    @Test("a compressed zip entry is an error naming the entry")
    func compressed() throws {
        guard case .compressedEntry(let name) = failure({
            _ = try TorchCheckpointReader.read(url: TestPaths.fixture("engine/bad/compressed.bin"))
        }) else { Issue.record("expected compressedEntry"); return }
        #expect(name.hasPrefix("_good/"))
    }

    @Test("a file that is neither zip nor pickle is not a torch checkpoint")
    func garbage() throws {
        guard case .notAZipArchive = failure({
            _ = try TorchCheckpointReader.read(url: writeTemporaryFile(Array("hello, world".utf8)))
        }) else { Issue.record("expected notAZipArchive"); return }
    }

    @Test("a zip without data.pkl, or without a storage the pickle names, reports the missing entry")
    func missingEntries() throws {
        var noPickle = ZipBuilder()
        noPickle.add("archive/version", Array("3".utf8))
        #expect(failure { _ = try TorchCheckpointReader.read(url: writeTemporaryFile(noPickle.build())) } == .missingEntry("data.pkl"))

        var noStorage = try ZipBuilder.repacking(fixtureBytes("tensors/parameter.bin"))
        noStorage.entries.removeAll { $0.name.hasSuffix("/data/0") }
        guard case .missingEntry(let name) = failure({ _ = try TorchCheckpointReader.read(url: writeTemporaryFile(noStorage.build())) }) else {
            Issue.record("expected missingEntry"); return
        }
        #expect(name.hasSuffix("data/0"))
    }

    @Test("a storage smaller than its tensor view is an error")
    func storageTooSmall() throws {
        // ('storage', FloatStorage, '0', 'cpu', 4) viewed as a [3, 3] tensor.
        let storage: [UInt8] = [0x28] + PickleBytes.unicode("storage") + PickleBytes.global("torch", "FloatStorage")
            + PickleBytes.unicode("0") + PickleBytes.unicode("cpu") + [0x4B, 4, 0x74, 0x51]
        let tensor = PickleBytes.global("torch._utils", "_rebuild_tensor_v2") + [0x28] + storage
            + [0x4B, 0, 0x4B, 3, 0x4B, 3, 0x86, 0x4B, 3, 0x4B, 1, 0x86, 0x89, 0x7D, 0x74, 0x52]
        let pickle: [UInt8] = [0x80, 0x02, 0x7D, 0x28] + PickleBytes.unicode("w") + tensor + [0x75, 0x2E]
        var zip = ZipBuilder()
        zip.add("archive/data.pkl", pickle)
        zip.add("archive/data/0", [UInt8](repeating: 0, count: 16))
        guard case .unsupportedTensor(tensor: "w", _) = failure({ _ = try TorchCheckpointReader.read(url: writeTemporaryFile(zip.build())) }) else {
            Issue.record("expected unsupportedTensor"); return
        }
    }
}
