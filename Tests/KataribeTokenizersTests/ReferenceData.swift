import Foundation
import KataribeTestSupport
@testable import KataribeTokenizers

/// One row of a reference.jsonl written by the Python libraries.
struct ReferenceRow {
    let text: String
    let ids: [Int]
    let pieces: [String]
    let decoded: String
    let normalized: String?
    let idsWithSpecial: [Int]?
    let decodedSkipSpecial: String?
}

enum ReferenceData {
    /// Rows of a JSON-lines reference file, parsed with the module's own strict JSON parser.
    static func rows(_ url: URL) throws -> [ReferenceRow] {
        let data = try Data(contentsOf: url)
        var rows: [ReferenceRow] = []
        for line in data.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
            guard case let .object(object) = try JSONParser.parse(Array(line)) else { continue }
            func string(_ key: String) -> String? {
                if case let .string(value)? = object[key] { return value }
                return nil
            }
            func ints(_ key: String) -> [Int]? {
                guard case let .array(values)? = object[key] else { return nil }
                return values.compactMap { if case let .number(n) = $0 { return Int(n) } else { return nil } }
            }
            func strings(_ key: String) -> [String]? {
                guard case let .array(values)? = object[key] else { return nil }
                return values.compactMap { if case let .string(s) = $0 { return s } else { return nil } }
            }
            rows.append(ReferenceRow(text: string("text") ?? "", ids: ints("ids") ?? [], pieces: strings("pieces") ?? [],
                                     decoded: string("decoded") ?? "", normalized: string("normalized"),
                                     idsWithSpecial: ints("ids_with_special"), decodedSkipSpecial: string("decoded_skip_special")))
        }
        return rows
    }

    /// Exact comparison: Swift `==` on strings is canonical equivalence, parity needs the scalars.
    static func same(_ a: String, _ b: String) -> Bool { a.utf8.elementsEqual(b.utf8) }
    static func same(_ a: [String], _ b: [String]) -> Bool { a.count == b.count && zip(a, b).allSatisfy { same($0, $1) } }

    static func describe(_ text: String) -> String {
        let prefix = String(text.unicodeScalars.prefix(40).map(Character.init))
        return prefix.debugDescription
    }
}

/// Collects mismatches and reports a bounded number of them.
struct MismatchLog {
    private(set) var count = 0
    private(set) var lines: [String] = []

    mutating func record(_ line: String) {
        count += 1
        if lines.count < 8 { lines.append(line) }
    }

    var summary: String { "\(count) mismatches:\n" + lines.joined(separator: "\n") }
}
