import Foundation
import Testing
import KataribeTensor
import KataribeTestSupport
@testable import KataribeCheckpoint

@Suite("Checkpoint directories and shards")
struct ShardedCheckpointTests {
    @Test("every container format of the same weights yields identical tensors",
          arguments: ["seq-f32-bin", "seq-f32-sharded-safetensors", "seq-f32-sharded-bin"])
    func formatsAgree(directory: String) throws {
        let reference = try CheckpointLoader.load(directory: TestPaths.fixture("engine/models/seq-f32-safetensors"))
        let other = try CheckpointLoader.load(directory: TestPaths.fixture("engine/models/\(directory)"))
        // The .bin files also carry old buffers (attention.bias, ...) that safetensors lacks.
        for name in reference.names {
            let a = try #require(reference[name]), b = try #require(other[name], "\(name) missing")
            #expect(a.shape == b.shape)
            #expect(a.floats() == b.floats(), "\(name)")
        }
    }

    @Test("formats are detected in transformers' order of preference")
    func detection() throws {
        #expect(CheckpointLoader.detectFormat(in: TestPaths.fixture("engine/models/seq-f32-sharded-bin")) == .shardedPytorch)
        #expect(CheckpointLoader.detectFormat(in: TestPaths.fixture("engine/models/seq-f32-safetensors")) == .safetensors)
        let empty = try temporaryDirectory()
        #expect(failure { _ = try CheckpointLoader.load(directory: empty) } == .noCheckpointFiles)
    }

    func shardedDirectory(index: String, shards: [String: [SafetensorsWriter.Entry]]) throws -> URL {
        let directory = try temporaryDirectory()
        try Data(index.utf8).write(to: directory.appendingPathComponent("model.safetensors.index.json"))
        for (name, entries) in shards {
            try SafetensorsWriter.write(entries, to: directory.appendingPathComponent(name))
        }
        return directory
    }

    @Test("a shard named in the index but absent is an error naming that shard")
    func missingShard() throws {
        let directory = try shardedDirectory(index: #"{"weight_map":{"a":"part-1.safetensors"}}"#, shards: [:])
        do {
            _ = try CheckpointLoader.load(directory: directory)
            Issue.record("expected an error")
        } catch {
            #expect(error.file.hasSuffix("part-1.safetensors"))
            guard case .cannotOpen = error.reason else { Issue.record("expected cannotOpen"); return }
        }
    }

    @Test("an index that maps a tensor to a shard lacking it is an error")
    func tensorMissingFromShard() throws {
        let directory = try shardedDirectory(
            index: #"{"weight_map":{"a":"one.safetensors","b":"one.safetensors"}}"#,
            shards: ["one.safetensors": [.init(name: "a", floats: [1], shape: [1])]])
        #expect(failure { _ = try CheckpointLoader.load(directory: directory) }
                == .tensorMissingFromShard(tensor: "b", shard: "one.safetensors"))
    }

    @Test("a tensor stored in two shards is an error")
    func duplicate() throws {
        let directory = try shardedDirectory(
            index: #"{"weight_map":{"a":"one.safetensors","b":"two.safetensors"}}"#,
            shards: ["one.safetensors": [.init(name: "a", floats: [1], shape: [1])],
                     "two.safetensors": [.init(name: "a", floats: [1], shape: [1]), .init(name: "b", floats: [1], shape: [1])]])
        #expect(failure { _ = try CheckpointLoader.load(directory: directory) } == .duplicateTensor("a"))
    }

    @Test("shard names that leave the directory, and indexes without a weight_map, are refused")
    func hostileIndex() throws {
        let traversal = try shardedDirectory(index: #"{"weight_map":{"a":"../../etc/passwd"}}"#, shards: [:])
        guard case .invalidIndex = failure({ _ = try CheckpointLoader.load(directory: traversal) }) else {
            Issue.record("expected invalidIndex"); return
        }
        let noMap = try shardedDirectory(index: #"{"metadata":{}}"#, shards: [:])
        guard case .invalidIndex = failure({ _ = try CheckpointLoader.load(directory: noMap) }) else {
            Issue.record("expected invalidIndex"); return
        }
    }
}
