import Foundation

/// The server's JSON settings: compact (one SSE event per line), keys sorted, UTF-8 text unescaped.
enum JSONCoding {
    static func encode<T: Encodable>(_ value: T) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // The wire types hold only strings, numbers, bools and arrays, which always encode.
        return (try? encoder.encode(value)) ?? Data("{}".utf8)
    }

    /// Decodes a request body; a malformed body becomes a 400 that says where it went wrong.
    static func decodeRequest<T: Decodable>(_ type: T.Type, from data: Data) throws(APIError) -> T {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch let error as APIError {
            throw error
        } catch let error as DecodingError {
            throw describe(error)
        } catch {
            throw .invalidRequest("the request body is not valid JSON: \(error)")
        }
    }

    private static func describe(_ error: DecodingError) -> APIError {
        func path(_ context: DecodingError.Context) -> String? {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            guard !keys.isEmpty else { return nil }
            return keys.reduce("") { $1.hasPrefix("[") || $0.isEmpty ? $0 + $1 : $0 + "." + $1 }
        }
        switch error {
        case .dataCorrupted(let context):
            if let field = path(context) {
                return .invalidRequest("invalid value for '\(field)': \(context.debugDescription)", param: field)
            }
            return .invalidRequest("the request body is not valid JSON", code: "invalid_json")
        case .keyNotFound(let key, let context):
            let field = (path(context).map { $0 + "." } ?? "") + key.stringValue
            return .invalidRequest("'\(field)' is required", param: field)
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            let field = path(context)
            let expected = type == String.self ? "a string" : type == Bool.self ? "a boolean"
                : (type == Int.self || type == UInt64.self || type == Int64.self) ? "an integer"
                : type == Double.self ? "a number" : "\(type)"
            if let field { return .invalidRequest("'\(field)' must be \(expected)", param: field) }
            return .invalidRequest("the request body must be a JSON object")
        @unknown default:
            return .invalidRequest("the request body could not be read: \(error)")
        }
    }
}
