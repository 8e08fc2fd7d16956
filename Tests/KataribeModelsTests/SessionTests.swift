import Foundation
import Testing
import KataribeTensor
import KataribeTestSupport
@testable import KataribeModels

@Suite("Sessions and the KV cache")
struct SessionTests {
    let ids = [3, 17, 200, 42, 0, 249, 101, 5, 77, 150, 9, 33, 128, 64, 211, 7]

    @Test("token-by-token decoding with the cache equals one full forward",
          arguments: ["seq-f32-safetensors", "par-tied-f32-safetensors", "seq-rot25-f16-bin"])
    func incrementalEqualsFull(directory: String) throws {
        let model = try ModelLoader.load(directory: modelDirectory(directory))
        let full = try model.logits(for: ids)
        let session = model.makeSession()
        var incremental: [[Float]] = []
        for id in ids { incremental.append(try session.append([id])) }
        #expect(maxAbsDifference(full, incremental) < 1e-5)
        #expect(session.tokens == ids)
    }

    @Test("a batched prompt followed by single tokens equals one full forward")
    func batchThenIncremental() throws {
        let model = try ModelLoader.load(directory: modelDirectory("seq-f32-safetensors"))
        let full = try model.logits(for: ids)
        let session = model.makeSession()
        var rows = try session.appendReturningAllLogits(Array(ids[..<7]))
        for id in ids[7...] { rows.append(try session.append([id])) }
        #expect(maxAbsDifference(full, rows) < 1e-5)
    }

    @Test("prompts longer than the batch capacity are processed in chunks with the same result")
    func chunking() throws {
        let wide = try ModelLoader.load(directory: modelDirectory("seq-f32-safetensors"))
        let narrow = try ModelLoader.load(
            directory: modelDirectory("seq-f32-safetensors"), options: LoadOptions(parallelism: .serial, batchCapacity: 3))
        #expect(maxAbsDifference(try wide.logits(for: ids), try narrow.logits(for: ids)) < 1e-5)
        let last = try narrow.makeSession().append(ids)
        #expect(maxAbsDifference([last], [try wide.logits(for: ids).last ?? []]) < 1e-5)
    }

    @Test("rewinding drops the cached tail; re-appending reproduces the logits")
    func rewind() throws {
        let model = try ModelLoader.load(directory: modelDirectory("seq-f32-safetensors"))
        let session = model.makeSession()
        let first = try session.append(ids)
        try session.rewind(to: 4)
        #expect(session.tokens == Array(ids[..<4]))
        let again = try session.append(Array(ids[4...]))
        #expect(maxAbsDifference([first], [again]) < 1e-5)
        #expect(throws: ModelError.invalidRewind(requested: 99, available: 16)) { try session.rewind(to: 99) }
        session.reset()
        #expect(session.tokens.isEmpty)
    }

    @Test("the cache grows past its first allocation without changing results")
    func growth() throws {
        let model = try ModelLoader.load(directory: modelDirectory("seq-f32-safetensors"))
        let long = (0..<64).map { ($0 * 37) % 250 }
        let session = model.makeSession()
        var incremental: [[Float]] = []
        for id in long { incremental.append(try session.append([id])) }
        #expect(maxAbsDifference(try model.logits(for: long), incremental) < 1e-4)
    }

    @Test("reserving the cache up front (exactly, or past the context) changes no result, and growing past the reservation still works")
    func reservation() throws {
        let model = try ModelLoader.load(directory: modelDirectory("seq-f32-safetensors"))
        let long = (0..<64).map { ($0 * 37) % 250 }
        let full = try model.logits(for: long)
        for reserved in [20, 64, 1_000] {
            let session = model.makeSession()
            session.reserveCapacity(reserved)
            var incremental = [try session.append(Array(long[..<5]))]
            for id in long[5...] { incremental.append(try session.append([id])) }
            #expect(maxAbsDifference(Array(full[4...]), incremental) < 1e-4, "reserved \(reserved)")
        }
    }

    @Test("token ids outside the vocabulary are typed errors, not crashes")
    func outOfVocabulary() throws {
        let model = try ModelLoader.load(directory: modelDirectory("seq-f32-safetensors"))
        let session = model.makeSession()
        #expect(throws: ModelError.tokenOutOfRange(token: 250, vocabularySize: 250)) { try session.append([1, 250]) }
        #expect(throws: ModelError.tokenOutOfRange(token: -1, vocabularySize: 250)) { try session.append([-1]) }
        #expect(session.tokens.isEmpty)
        #expect(throws: ModelError.emptyInput) { try session.append([]) }
    }

    @Test("exceeding max_position_embeddings is a typed error and leaves the session usable")
    func contextOverflow() throws {
        let model = try ModelLoader.load(directory: modelDirectory("seq-f32-safetensors"))
        #expect(model.contextLength == 64)
        let session = model.makeSession()
        _ = try session.append(Array(repeating: 1, count: 60))
        #expect(throws: ModelError.contextOverflow(needed: 65, limit: 64)) { try session.append([1, 2, 3, 4, 5]) }
        #expect(session.tokens.count == 60)
        _ = try session.append([1, 2, 3, 4])
    }

    @Test("sessions on the same model run concurrently without interfering")
    func concurrentSessions() async throws {
        let model = try ModelLoader.load(directory: modelDirectory("seq-f32-safetensors"))
        let expected = try model.logits(for: ids)
        let ids = ids
        try await withThrowingTaskGroup(of: [[Float]].self) { group in
            for _ in 0..<4 { group.addTask { try model.logits(for: ids) } }
            for try await result in group { #expect(maxAbsDifference(result, expected) == 0) }
        }
    }
}
