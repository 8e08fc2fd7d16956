import Foundation
import Testing
import KataribeTestSupport
@testable import KataribeCheckpoint

/// Files built to hurt the reader: each must end in a `CheckpointError` naming the file, never in a
/// crash, a hang or an allocation the file cannot justify.
@Suite("Hostile checkpoints")
struct HostileCheckpointTests {
    func torchFailure(pickle: [UInt8], storage: [UInt8] = [0, 0, 0, 0]) throws -> CheckpointError? {
        var zip = ZipBuilder()
        zip.add("archive/data.pkl", pickle)
        zip.add("archive/data/0", storage)
        let url = try writeTemporaryFile(zip.build(), name: "pytorch_model.bin")
        do {
            _ = try TorchCheckpointReader.read(url: url)
            return nil
        } catch {
            #expect(error.file == url.path)
            return error
        }
    }

    @Test("30,000 nested lists, 100,000 nested tuples and 30,000 nested dicts are errors, not stack overflows")
    func deepNesting() throws {
        let lists: [UInt8] = [0x80, 0x02] + [UInt8](repeating: 0x5D, count: 30_000) + [UInt8](repeating: 0x61, count: 29_999) + [0x2E]
        let tuples: [UInt8] = [0x80, 0x02, 0x29] + [UInt8](repeating: 0x85, count: 100_000) + [0x2E]
        let dictLevel: [UInt8] = [0x8C, 1, UInt8(ascii: "k"), 0x7D]
        let dicts: [UInt8] = [0x80, 0x02, 0x7D] + Array([[UInt8]](repeating: dictLevel, count: 30_000).joined())
            + [UInt8](repeating: 0x73, count: 30_000) + [0x2E]
        // The same deep value inside a state dict, and a truncated one that fails mid-way.
        let valueInStateDict: [UInt8] = [0x80, 0x02, 0x7D, 0x8C, 1, UInt8(ascii: "w"), 0x29]
            + [UInt8](repeating: 0x85, count: 100_000) + [0x73, 0x2E]
        let truncated = Array(lists.dropLast(10_000))
        for pickle in [lists, tuples, dicts, valueInStateDict, truncated] {
            guard let error = try torchFailure(pickle: pickle) else { Issue.record("accepted"); continue }
            switch error.reason {
            case .malformedPickle, .unsupportedTensor: break
            default: Issue.record("unexpected \(error)")
            }
        }
    }

    /// `_rebuild_tensor_v2(storage of `numel` floats, 0, shape, strides)` in a state dict `{"w": …}`.
    func viewPickle(numel: Int, shape: [Int], strides: [Int]) -> [UInt8] {
        func int(_ v: Int) -> [UInt8] { [0x8A, 8] + (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
        func tuple(_ values: [Int]) -> [UInt8] { [0x28] + values.flatMap(int) + [0x74] }
        let storage: [UInt8] = [0x28] + PickleBytes.unicode("storage") + PickleBytes.global("torch", "FloatStorage")
            + PickleBytes.unicode("0") + PickleBytes.unicode("cpu") + int(numel) + [0x74, 0x51]
        let tensor = PickleBytes.global("torch._utils", "_rebuild_tensor_v2") + [0x28] + storage
            + int(0) + tuple(shape) + tuple(strides) + [0x89, 0x7D, 0x74, 0x52]
        return [0x80, 0x02, 0x7D, 0x28] + PickleBytes.unicode("w") + tensor + [0x75, 0x2E]
    }

    @Test("stride-0 and overlapping views are refused before anything is allocated; a 2^35-element view of one float is an error")
    func broadcastViews() throws {
        let cases: [(numel: Int, shape: [Int], strides: [Int])] = [
            (1, [1 << 35], [0]),  // would allocate 128 GiB
            (1, [1000], [0]),  // small enough to allocate, still a lie
            (4, [2, 2], [1, 1]),  // overlapping rows
            (4, [3, 2], [1, 2]),  // more elements than the storage
        ]
        for c in cases {
            let error = try torchFailure(pickle: viewPickle(numel: c.numel, shape: c.shape, strides: c.strides),
                                         storage: [UInt8](repeating: 0, count: 4 * c.numel))
            guard case .unsupportedTensor(tensor: "w", _)? = error?.reason else {
                Issue.record("shape \(c.shape) strides \(c.strides): \(String(describing: error))"); continue
            }
        }
        // The legitimate layouts stay readable: a transpose, and a row-major view with an unused tail.
        for (shape, strides) in [([2, 3], [1, 2]), ([2, 2], [2, 1])] {
            var zip = ZipBuilder()
            zip.add("archive/data.pkl", viewPickle(numel: 6, shape: shape, strides: strides))
            zip.add("archive/data/0", [UInt8](repeating: 0, count: 24))
            let tensors = try TorchCheckpointReader.read(url: writeTemporaryFile(zip.build()))
            #expect(tensors["w"]?.shape == shape)
        }
    }

    @Test("a FIFO (or a directory) named model.safetensors is refused at once instead of blocking open()")
    func fifo() async throws {
        let directory = try temporaryDirectory()
        let fifo = directory.appendingPathComponent("model.safetensors")
        #expect(mkfifo(fifo.path, 0o644) == 0)
        let call = BlockingCall { "\(failure { _ = try SafetensorsReader.read(url: fifo) } as Any)" }
        guard let outcome = try await call.value(within: .seconds(20)) else {
            releaseFIFOReader(fifo)
            Issue.record("reading a FIFO blocked")
            return
        }
        #expect(outcome.contains("not a regular file (a FIFO)"))
        #expect(failure { _ = try SafetensorsReader.read(url: directory) } == .cannotOpen("not a regular file (a directory)"))
    }

    func safetensors(header: String, data: [UInt8], lengthAdjustment: Int = 0) -> [UInt8] {
        let json = Array(header.utf8)
        var length = UInt64(json.count + lengthAdjustment).littleEndian
        return withUnsafeBytes(of: &length) { Array($0) } + json + data
    }

    @Test("safetensors is read as strictly as the reference loader: exact coverage, string metadata, header ≤ 100,000,000 bytes")
    func strictSafetensors() throws {
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}  "#
        let data = [UInt8](repeating: 0, count: 12)
        func reason(_ bytes: [UInt8]) throws -> CheckpointError.Reason? {
            failure { _ = try SafetensorsReader.read(url: writeTemporaryFile(bytes)) }
        }
        #expect(try reason(safetensors(header: header, data: data)) == nil)
        // Header length one byte short: the JSON still parses (trailing padding), but the data
        // section gains a byte and every tensor would be read one byte early.
        guard case .invalidHeader? = try reason(safetensors(header: header, data: data, lengthAdjustment: -1)) else {
            Issue.record("header one byte short accepted"); return
        }
        guard case .invalidHeader? = try reason(safetensors(header: header, data: data + [0])) else {
            Issue.record("trailing bytes accepted"); return
        }
        let gap = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}}"#
        guard case .invalidHeader? = try reason(safetensors(header: gap, data: data + [0, 0, 0, 0])) else {
            Issue.record("gap accepted"); return
        }
        let late = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        guard case .invalidHeader? = try reason(safetensors(header: late, data: [UInt8](repeating: 0, count: 8))) else {
            Issue.record("bytes before the first tensor accepted"); return
        }
        let metadata = #"{"__metadata__":{"format":"pt","n":1},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        guard case .invalidHeader? = try reason(safetensors(header: metadata, data: [0, 0, 0, 0])) else {
            Issue.record("non-string metadata accepted"); return
        }
        var length = UInt64(100 * 1024 * 1024).littleEndian
        let hugeHeader = withUnsafeBytes(of: &length) { Array($0) } + Array("{}".utf8)
        guard case .invalidHeader(let why)? = try reason(hugeHeader), why.contains("100000000") else {
            Issue.record("100 MiB header length accepted"); return
        }
    }

    @Test("names taken from a file are bounded and escaped in error messages")
    func quotedNames() throws {
        let name = "\u{1B}[2J\u{1B}]0;owned\u{07}" + String(repeating: "x", count: 100_000)
        let header = "{\"\(name.replacingOccurrences(of: "\u{1B}", with: "\\u001b").replacingOccurrences(of: "\u{07}", with: "\\u0007"))\":{\"dtype\":\"Q9\",\"shape\":[1],\"data_offsets\":[0,4]}}"
        let url = try writeTemporaryFile(safetensors(header: header, data: [0, 0, 0, 0]))
        do {
            _ = try SafetensorsReader.read(url: url)
            Issue.record("accepted")
        } catch {
            let message = error.description
            #expect(!message.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 })
            #expect(message.contains("\\u{1B}[2J"))
            #expect(message.count < 1000)
        }
    }
}

