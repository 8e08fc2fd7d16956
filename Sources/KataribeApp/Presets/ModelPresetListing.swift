import Foundation
import KataribeGeneration

/// Renderings of the preset list for `kataribe models`.
public enum ModelPresetListing {
    public static let columns = ["ID", "SOURCE", "FAMILY", "DTYPE", "TOKENIZER", "FORMAT", "DEFAULTS"]

    /// An aligned plain-text table, one preset per row.
    public static func table(_ presets: [ModelPreset] = ModelPresetCatalog.all) -> String {
        let rows = presets.map { p in
            [p.id, p.hubRepoID ?? p.localPath ?? "-", p.family.rawValue, p.dtype.rawValue, p.tokenizer.rawValue,
             p.promptFormat.name, defaultsSummary(p.generation)]
        }
        let widths = columns.indices.map { c in ([columns[c]] + rows.map { $0[c] }).map(displayWidth).max() ?? 0 }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { c, cell in
                c == cells.count - 1 ? cell : cell + String(repeating: " ", count: widths[c] - displayWidth(cell) + 2)
            }.joined()
        }
        return ([line(columns)] + rows.map(line)).joined(separator: "\n") + "\n"
    }

    /// The presets as pretty, key-sorted JSON (GenerationConfig field names).
    public static func json(_ presets: [ModelPreset] = ModelPresetCatalog.all) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(presets), as: UTF8.self)
    }

    /// Where each preset's settings come from, one `id  URL` line per preset that has a source, so
    /// the DEFAULTS column can be checked against the cards.
    public static func sources(_ presets: [ModelPreset] = ModelPresetCatalog.all) -> String {
        let listed = presets.compactMap { p in p.source.map { (p.id, $0) } }
        guard !listed.isEmpty else { return "" }
        let width = listed.map { $0.0.count }.max() ?? 0
        let lines = listed.map { id, url in "  " + id + String(repeating: " ", count: width - id.count + 2) + url }
        return (["Model cards the DEFAULTS come from (what a card leaves out comes from the model's generation_config.json):"]
            + lines).joined(separator: "\n") + "\n"
    }

    /// e.g. "sample t=0.7 top_p=0.9 rep=1.05 max_new=64". A preset that leaves do_sample unset lets
    /// the model decide (its generation_config.json, as `generate()` without the argument does):
    /// "model defaults + max_new=512".
    public static func defaultsSummary(_ g: GenerationParameters) -> String {
        var parts = [g.doSample.map { $0 ? "sample" : "greedy" } ?? "model defaults"]
        func number(_ x: Double) -> String { x == x.rounded() ? String(Int(x)) : String(x) }
        if let t = g.temperature { parts.append("t=\(number(t))") }
        if let k = g.topK { parts.append("top_k=\(k)") }
        if let p = g.topP { parts.append("top_p=\(number(p))") }
        if let p = g.typicalP { parts.append("typical_p=\(number(p))") }
        if let r = g.repetitionPenalty { parts.append("rep=\(number(r))") }
        if let m = g.minNewTokens { parts.append("min_new=\(m)") }
        if let m = g.maxNewTokens { parts.append("max_new=\(m)") }
        if let m = g.maxLength { parts.append("max_length=\(m)") }
        if g.doSample == nil && parts.count > 1 { parts[0] += " +" }
        return parts.joined(separator: " ")
    }

    /// Terminal columns: wide (East Asian) characters take two.
    static func displayWidth(_ s: String) -> Int {
        s.unicodeScalars.reduce(0) { width, scalar in
            let v = scalar.value
            let wide = (0x1100...0x115F).contains(v) || (0x2E80...0xA4CF).contains(v) || (0xAC00...0xD7A3).contains(v)
                || (0xF900...0xFAFF).contains(v) || (0xFE30...0xFE4F).contains(v) || (0xFF00...0xFF60).contains(v)
                || (0xFFE0...0xFFE6).contains(v) || (0x20000...0x3FFFD).contains(v)
            return width + (wide ? 2 : 1)
        }
    }
}
