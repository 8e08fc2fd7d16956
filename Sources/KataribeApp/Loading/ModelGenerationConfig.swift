import Foundation
import KataribeGeneration

/// The generation settings a model folder carries, read as transformers' `from_pretrained` reads them:
/// `generation_config.json` when present, otherwise `config.json` taken as a generation config (its
/// `eos_token_id`, `pad_token_id` and any generation keys). Unknown keys are ignored.
public enum ModelGenerationConfig {
    public static func read(folder: URL) throws(ModelLoadError) -> GenerationParameters {
        let generation = folder.appendingPathComponent("generation_config.json")
        let file = FileManager.default.fileExists(atPath: generation.path) ? generation : folder.appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: file.path) else { return GenerationParameters() }
        do {
            return try JSONDecoder().decode(GenerationParameters.self, from: Data(contentsOf: file))
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
