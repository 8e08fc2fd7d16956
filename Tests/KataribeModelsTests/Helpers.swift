import Foundation
import Testing
import KataribeCheckpoint
import KataribeTestSupport
@testable import KataribeModels

/// transformers' output for one fixture weight set (tools/fixtures/make_engine_fixtures.py).
struct Reference: Decodable {
    let model: String
    let ids: [Int]
    let logits: [[Float]]
    let greedyPrompt: [Int]
    let greedyTokens: [Int]
    let greedyMinMargin: Double
    let nativeDtype: String
    let nativeDtypeMaxAbsDiff: Double
    let formats: [String]

    enum CodingKeys: String, CodingKey {
        case model, ids, logits, formats
        case greedyPrompt = "greedy_prompt", greedyTokens = "greedy_tokens", greedyMinMargin = "greedy_min_margin"
        case nativeDtype = "native_dtype", nativeDtypeMaxAbsDiff = "native_dtype_max_abs_diff"
    }

    static let names = ["seq-f32", "par-tied-f32", "seq-rot25-f16", "seq-bf16", "par-gelunew-nobias-f16", "seq-tied-bf16"]

    static func load(_ name: String) throws -> Reference {
        try JSONDecoder().decode(Reference.self, from: Data(contentsOf: TestPaths.fixture("engine/reference/\(name).json")))
    }

    /// Every (reference, model directory) pair.
    static var allFormats: [(String, String)] {
        names.flatMap { name in ((try? load(name))?.formats ?? []).map { (name, $0) } }
    }
}

func modelDirectory(_ name: String) -> URL { TestPaths.fixture("engine/models/\(name)") }

func maxAbsDifference(_ a: [[Float]], _ b: [[Float]]) -> Float {
    var worst: Float = 0
    for (x, y) in zip(a, b) {
        for (u, v) in zip(x, y) { worst = max(worst, abs(u - v)) }
    }
    return a.count == b.count ? worst : .infinity
}

func argmax(_ x: [Float]) -> Int {
    var best = 0
    for i in x.indices where x[i] > x[best] { best = i }
    return best
}

func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("kataribe-model-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// A model directory holding `config` (JSON text) and the given tensors as model.safetensors.
func makeModelDirectory(config: String, tensors: [SafetensorsWriter.Entry]) throws -> URL {
    let directory = try temporaryDirectory()
    try Data(config.utf8).write(to: directory.appendingPathComponent("config.json"))
    try SafetensorsWriter.write(tensors, to: directory.appendingPathComponent("model.safetensors"))
    return directory
}

/// The tensors of the seq-f32 fixture, editable.
func seqF32Entries() throws -> [SafetensorsWriter.Entry] {
    let tensors = try CheckpointLoader.load(directory: modelDirectory("seq-f32-safetensors"))
    return tensors.names.compactMap { name in tensors[name].map { SafetensorsWriter.Entry(name: name, tensor: $0) } }
}

func seqF32Config() throws -> String {
    try String(contentsOf: modelDirectory("seq-f32-safetensors").appendingPathComponent("config.json"), encoding: .utf8)
}

/// Rewrites keys of a JSON object (nil removes the key).
func editedJSON(_ json: String, _ edits: [String: Any?]) throws -> String {
    var object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    for (key, value) in edits {
        if let value { object[key] = value } else { object.removeValue(forKey: key) }
    }
    return String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
}

/// Loading `directory` fails with a ModelError; returns it.
func loadError(_ directory: URL) -> ModelError? {
    do {
        _ = try ModelLoader.load(directory: directory)
        return nil
    } catch {
        return error
    }
}
