import Foundation
import KataribeGeneration
import KataribeModels

/// The generation settings a model folder carries, read as transformers' `from_pretrained` reads them:
/// `generation_config.json` when present, otherwise `config.json` taken as a generation config (its
/// `eos_token_id`, `pad_token_id` and any generation keys). Unknown keys are ignored.
public enum ModelGenerationConfig {
    /// - Parameter config: the folder's config.json as the loader already read it; nil reads it here.
    public static func read(folder: URL, config: ModelConfigFile? = nil) throws(ModelLoadError) -> GenerationParameters {
        let generation = folder.appendingPathComponent("generation_config.json")
        let file = FileManager.default.fileExists(atPath: generation.path) ? generation : folder.appendingPathComponent("config.json")
        if file != generation, let config { return try decode(config.data, file: file) }
        guard FileManager.default.fileExists(atPath: file.path) else { return GenerationParameters() }
        let data: Data
        do { data = try Data(contentsOf: file) } catch {
            throw .generationConfig(file: file.path, reason: error.localizedDescription)
        }
        return try decode(data, file: file)
    }

    static func decode(_ data: Data, file: URL) throws(ModelLoadError) -> GenerationParameters {
        do {
            return try JSONDecoder().decode(GenerationParameters.self, from: data)
        } catch let error as DecodingError {
            throw .generationConfig(file: file.path, reason: describe(error))
        } catch {
            throw .generationConfig(file: file.path, reason: "\(error.localizedDescription)")
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        switch error {
        case .typeMismatch(let type, let context):
            return "'\(context.codingPath.map(\.stringValue).joined(separator: "."))' is not \(type)"
        case .valueNotFound(_, let context), .keyNotFound(_, let context):
            return "'\(context.codingPath.map(\.stringValue).joined(separator: "."))' is missing"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "not valid JSON" : "'\(context.codingPath.map(\.stringValue).joined(separator: "."))': \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}
