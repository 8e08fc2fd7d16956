import KataribeCKernels
import Foundation
import Testing
import KataribeCheckpoint
import KataribeTensor
import KataribeTestSupport
@testable import KataribeModels

/// Mean next-token log-likelihood of `ids` under `logits` (natural log).
func meanLogLikelihood(_ logits: [[Float]], _ ids: [Int]) -> Double {
    var total = 0.0
    for i in 0..<(ids.count - 1) {
        total += logits[i].withUnsafeBufferPointer { VectorOps.logSoftmax($0, at: ids[i + 1]) }
    }
    return total / Double(ids.count - 1)
}

@Suite("Weight formats, quantized models and the KV cache format")
struct QuantizedModelTests {
    func load(_ directory: String, _ options: LoadOptions) throws -> GPTNeoXModel {
        try ModelLoader.loadGPTNeoX(directory: modelDirectory(directory), options: options)
    }

    /// A float32 model directory holding `model`'s weights as the quantized matrices widen them.
    func dequantizedCopy(of model: GPTNeoXModel, config: URL) throws -> URL {
        var entries: [SafetensorsWriter.Entry] = []
        for (name, tensor) in model.statistics.saved.plain {
            entries.append(SafetensorsWriter.Entry(name: name, floats: tensor.floats() ?? [], shape: tensor.shape))
        }
        for (name, matrix) in model.statistics.saved.matrices where !(model.hasTiedEmbeddings && name == "embed_out.weight") {
            let w = WeightMatrix(matrix)
            var values = [Float](repeating: 0, count: w.rows * w.columns)
            values.withUnsafeMutableBufferPointer { buffer in
                for r in 0..<w.rows { w.row(r, into: buffer.baseAddress! + r * w.columns) }
            }
            entries.append(SafetensorsWriter.Entry(name: name, floats: values, shape: [w.rows, w.columns]))
        }
        return try makeModelDirectory(config: String(contentsOf: config, encoding: .utf8), tensors: entries)
    }

    @Test("a quantized model computes exactly what a float model holding its dequantized weights computes",
          arguments: ["seq-f32-safetensors", "par-gelunew-nobias-f16-sharded-safetensors", "seq-bf16-bin"])
    func equalsDequantized(directory: String) throws {
        let ids = try Reference.load("seq-f32").ids
        for format in [WeightFormat.q8, .q4] {
            let model = try load(directory, LoadOptions(parallelism: .serial, weightFormat: format))
            #expect(model.linearWeightFormat == format && model.kvCacheFormat == .float16)
            let copy = try dequantizedCopy(of: model, config: modelDirectory(directory).appendingPathComponent("config.json"))
            let float = try ModelLoader.loadGPTNeoX(directory: copy, options: LoadOptions(parallelism: .serial, kvCacheFormat: .float16))
            // Batched passes multiply in float32 on both sides, except on AVX-512 VNNI, where
            // quantized prompts quantize activations like single tokens (checked below).
            let int8Prompts = kc_isa() >= Int32(KC_ISA_AVX512)
            if !int8Prompts {
                #expect(maxAbsDifference(try model.logits(for: ids), try float.logits(for: ids)) < 1e-4, "\(directory) \(format)")
            }
            // Single tokens also round activations to int8 (a scale per 32 values), about
            // bfloat16's precision: these tiny random models move by a few tenths of a logit
            // (bfloat16 weights alone move them by up to 0.06).
            let session = model.makeSession()
            var rows: [[Float]] = []
            for id in ids { rows.append(try session.append([id])) }
            let difference = maxAbsDifference(rows, try float.logits(for: ids))
            #expect(difference < 0.4, "\(directory) \(format) single tokens: \(difference)")
            if int8Prompts {
                // The int8 prompt GEMM and the int8 GEMV quantize activations alike; float
                // rounding differences upstream can move a value across a code boundary, which
                // then moves logits by hundredths, not tenths.
                let prompt = try model.logits(for: ids)
                #expect(maxAbsDifference(prompt, rows) < 0.05, "\(directory) \(format) prompt vs single tokens")
            }
        }
    }

    @Test("on the fixtures' random weights q8 stays within 2% and q4 within 30% of the reference perplexity",
          arguments: ["seq-f32", "par-tied-f32", "seq-rot25-f16", "seq-bf16", "par-gelunew-nobias-f16", "seq-tied-bf16"])
    func closeToReference(name: String) throws {
        let reference = try Reference.load(name)
        let directory = try #require(reference.formats.first)
        for (format, tolerance) in [(WeightFormat.q8, 0.02), (.q4, 0.3)] {
            let model = try load(directory, LoadOptions(parallelism: .serial, weightFormat: format))
            let logits = try model.logits(for: reference.ids)
            let ratio = exp(meanLogLikelihood(reference.logits, reference.ids) - meanLogLikelihood(logits, reference.ids))
            #expect(abs(ratio - 1) < tolerance, "\(name) \(format): perplexity ratio \(ratio)")
        }
    }

    @Test("float weight formats convert at load and stay within float16 rounding of the reference")
    func denseFormats() throws {
        let reference = try Reference.load("seq-f32")
        for format in [WeightFormat.float16, .bfloat16, .float32] {
            let model = try load("seq-f32-safetensors", LoadOptions(parallelism: .serial, weightFormat: format))
            #expect(model.linearWeightFormat == format && model.kvCacheFormat == .float32)
            let difference = maxAbsDifference(try model.logits(for: reference.ids), reference.logits)
            #expect(difference < (format == .bfloat16 ? 0.1 : format == .float16 ? 0.01 : 1e-4), "\(format): \(difference)")
        }
    }

    @Test("converting a float16 matrix to bfloat16 at load gives the file's pages back: only the converted copy stays resident")
    func conversionReleasesSourcePages() throws {
        #if os(Linux)
        // One float16 matrix (a checkpoint like rinna's) spanning 512 pages.
        let name = "gpt_neox.layers.0.mlp.dense_h_to_4h.weight"
        let bytes = (0..<2048 * 512).map { Float16(Float($0 % 997) / 50_000).bitPattern }.withUnsafeBytes { Array($0) }
        let entry = SafetensorsWriter.Entry(name: name, dtype: .float16, shape: [2048, 512], bytes: bytes)
        let directory = try makeModelDirectory(config: "{}", tensors: [entry])
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("model.safetensors").path

        // The checkpoint as the loader maps it, held here so the mapping outlives the conversion.
        let tensors = try CheckpointLoader.load(directory: directory)
        var taker = WeightTaker(tensors: tensors, location: directory.path, format: .bfloat16, prequantized: [:],
                                parallelism: .serial, skipping: { _ in false })
        let converted = try taker.matrix(name, [2048, 512])
        #expect(converted.format == .bfloat16)
        let measured = try residentKiB(ofMappingsOf: file)
        let resident = try #require(measured, "\(file) is not mapped")
        // The 2 MiB float16 source was read in full; what stays is at most a few pages around it.
        #expect(resident < 256, "\(resident) KiB of the 2048 KiB matrix still resident after converting it")
        withExtendedLifetime(tensors) {}
        #else
        print("note: skipped the page-release check: it reads Linux's /proc/self/smaps")
        #endif
    }

    /// KiB of `path`'s mappings resident in this process (nil when the file is not mapped).
    func residentKiB(ofMappingsOf path: String) throws -> Int? {
        // Read to the end: String(contentsOfFile:) trusts the size procfs reports and stops early.
        let handle = try #require(FileHandle(forReadingAtPath: "/proc/self/smaps"))
        defer { try? handle.close() }
        let smaps = String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
        var inFile = false, found = false, total = 0
        for line in smaps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let first = fields.first, first.contains("-"), fields.count >= 5, !first.hasSuffix(":") {
                inFile = fields.count >= 6 && fields[5...].joined(separator: " ") == path
                found = found || inFile
            } else if inFile, fields.first == "Rss:", fields.count >= 2, let kib = Int(fields[1]) {
                total += kib
            }
        }
        return found ? total : nil
    }

    @Test("a float16 KV cache changes logits only by float16 rounding; float32 stays exact")
    func halfCache() throws {
        let reference = try Reference.load("seq-f32")
        let half = try load("seq-f32-safetensors", LoadOptions(parallelism: .serial, kvCacheFormat: .float16))
        #expect(half.kvCacheFormat == .float16)
        #expect(maxAbsDifference(try half.logits(for: reference.ids), reference.logits) < 5e-3)
        // Incremental decoding with a half cache equals the batched pass with a half cache.
        let session = half.makeSession()
        var rows: [[Float]] = []
        for id in reference.ids { rows.append(try session.append([id])) }
        #expect(maxAbsDifference(rows, try half.logits(for: reference.ids)) < 1e-4)
        #expect(half.fullContextCacheBytes * 2 == (try load("seq-f32-safetensors", LoadOptions())).fullContextCacheBytes)
    }

    @Test("multi-threaded quantized models give the same logits as serial ones", arguments: [WeightFormat.q8, .q4])
    func threads(format: WeightFormat) throws {
        let ids = try Reference.load("seq-f32").ids
        let serial = try load("seq-f32-safetensors", LoadOptions(parallelism: .serial, weightFormat: format))
        let parallel = try load("seq-f32-safetensors", LoadOptions(parallelism: Parallelism(threadCount: 3), weightFormat: format))
        #expect(maxAbsDifference(try serial.logits(for: ids), try parallel.logits(for: ids)) < 1e-5)
    }

    @Test("the quantized cache: first load saves, second maps the file with identical logits, a changed checkpoint rebuilds")
    func cache() throws {
        let source = try temporaryDirectory()
        for file in ["config.json", "model.safetensors"] {
            try FileManager.default.copyItem(at: modelDirectory("seq-f32-safetensors").appendingPathComponent(file),
                                             to: source.appendingPathComponent(file))
        }
        let cache = QuantizedCache(directory: try temporaryDirectory().appendingPathComponent("nested/cache"))
        let options = LoadOptions(parallelism: .serial, weightFormat: .q4, quantizedCache: cache)
        let ids = try Reference.load("seq-f32").ids
        let url = cache.url(forModel: source, format: .q4)

        let first = try ModelLoader.loadGPTNeoX(directory: source, options: options)
        #expect(first.weightSource == .quantizedAndSaved(url))
        let second = try ModelLoader.loadGPTNeoX(directory: source, options: options)
        #expect(second.weightSource == .quantizedCache(url))
        #expect(maxAbsDifference(try first.logits(for: ids), try second.logits(for: ids)) == 0)
        #expect(second.parameterCount == first.parameterCount)

        // Same file name, new contents: the fingerprint changes and the cache is rebuilt.
        let weights = source.appendingPathComponent("model.safetensors")
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: 10)], ofItemAtPath: weights.path)
        let third = try ModelLoader.loadGPTNeoX(directory: source, options: options)
        #expect(third.weightSource == .quantizedAndSaved(url))

        // q8 gets its own file next to the q4 one.
        let q8 = try ModelLoader.loadGPTNeoX(directory: source, options: LoadOptions(parallelism: .serial, weightFormat: .q8,
                                                                                     quantizedCache: cache))
        #expect(q8.weightSource == .quantizedAndSaved(cache.url(forModel: source, format: .q8)))
    }

    @Test("a corrupt cached file is a typed error naming it; an unwritable cache still loads the model")
    func corruptCache() throws {
        let cache = QuantizedCache(directory: try temporaryDirectory())
        let directory = modelDirectory("seq-f32-safetensors")
        let url = cache.url(forModel: directory, format: .q8)
        try Data("not a model".utf8).write(to: url)
        do {
            _ = try ModelLoader.loadGPTNeoX(directory: directory, options: LoadOptions(weightFormat: .q8, quantizedCache: cache))
            Issue.record("expected an error")
        } catch {
            guard case .checkpoint(let inner) = error else { Issue.record("got \(error)"); return }
            #expect(inner.file == url.path)
        }
        let unwritable = QuantizedCache(directory: URL(fileURLWithPath: "/proc/kataribe-no-such-dir"))
        let model = try ModelLoader.loadGPTNeoX(directory: directory, options: LoadOptions(weightFormat: .q8, quantizedCache: unwritable))
        guard case .quantizedSaveFailed = model.weightSource else { Issue.record("got \(model.weightSource)"); return }
    }

    @Test("a synthetic context holds the requested positions and decoding continues after it")
    func syntheticContext() throws {
        let model = try load("seq-f32-safetensors", LoadOptions(parallelism: .serial))
        let session = try #require(model.makeSession() as? SyntheticContextFilling)
        try session.appendSyntheticContext(count: 40, seed: 3)
        #expect(session.tokens.count == 40 && session.tokens.allSatisfy { (0..<250).contains($0) })
        let logits = try session.append([5])
        #expect(logits.count == 250 && logits.allSatisfy(\.isFinite))
        #expect(throws: ModelError.contextOverflow(needed: 41 + 30, limit: 64)) { try session.appendSyntheticContext(count: 30, seed: 1) }
        #expect(throws: ModelError.emptyInput) { try session.appendSyntheticContext(count: 0, seed: 1) }
    }
}
