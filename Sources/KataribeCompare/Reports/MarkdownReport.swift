import Foundation
import KataribeApp
import KataribeGeneration

/// The article-style report: per prompt, a `| モデル | 出力 |` table with the chosen sample of each
/// model, then every sample per model, numbered; speed and settings at the end.
public enum MarkdownReport {
    public static func render(_ report: CompareReport) -> String {
        let plan = report.plan
        var out = "# \(inline(plan.title))\n\n"
        out += "\(plan.models.count) モデル × \(plan.prompts.count) プロンプト × \(plan.samples) サンプル、seed \(plan.seed)"
        if let version = report.kataribeVersion { out += "（Kataribe \(version)）" }
        out += "\n"

        for row in report.rows {
            out += "\n## \(inline(row.prompt.title))（`\(row.prompt.id)`）\n\n"
            if let completion = row.prompt.completion { out += "- 続きを書くモデルへ: \(inline(completion))\n" }
            if let instruction = row.prompt.instruction { out += "- 指示を受けるモデルへ: \(inline(instruction))\n" }
            out += "\n| モデル | 出力 |\n| --- | --- |\n"
            for entry in row.cells {
                out += "| \(cell(entry.model.label)) | \(chosenText(entry)) |\n"
            }
            out += "\n### すべてのサンプル: \(inline(row.prompt.title))\n"
            for entry in row.cells {
                out += "\n#### \(inline(entry.model.label))\n\n| # | 出力 |\n| --- | --- |\n"
                for (index, sample) in entry.samples.enumerated() {
                    let mark = index == entry.chosen ? " ★" : ""
                    out += "| \(index + 1)\(mark) | \(sampleText(sample, error: entry.errors[index])) |\n"
                }
            }
        }

        out += "\n## 速度\n\n| モデル | tokens/s | 読み込み (s) | 完了 | 失敗 | 未実行 |\n| --- | ---: | ---: | ---: | ---: | ---: |\n"
        for s in report.stats {
            out += "| \(cell(s.label)) | \(s.tokensPerSecond.map { fixed($0, 1) } ?? "-") | \(s.loadSeconds.map { fixed($0, 1) } ?? "-") "
                + "| \(s.finished) | \(s.failed) | \(s.missing) |\n"
        }

        out += "\n## 設定\n\n| モデル | 読み込み元 | 形式 | dtype | 生成設定 |\n| --- | --- | --- | --- | --- |\n"
        for model in plan.models {
            out += "| \(cell(model.label)) | \(cell(model.source.description)) | \(model.preset.promptFormat.name) "
                + "| \(model.dtypeShown) | \(cell(ModelPresetListing.defaultsSummary(model.preset.generation))) |\n"
        }

        let errors = report.errors
        if !errors.isEmpty {
            out += "\n## エラー\n\n| モデル | プロンプト | # | 段階 | 内容 |\n| --- | --- | ---: | --- | --- |\n"
            for e in errors {
                out += "| \(cell(e.modelLabel)) | \(cell(e.promptID)) | \(e.sampleIndex + 1) | \(e.stage.rawValue) | \(cell(e.message)) |\n"
            }
        }
        return out
    }

    static func chosenText(_ c: CompareReport.Cell) -> String {
        if let chosen = c.chosen, let sample = c.samples[chosen] { return cell(sample.display) }
        if let error = c.errors.sorted(by: { $0.key < $1.key }).first?.value { return "（エラー: \(cell(error.message))）" }
        return "（未実行）"
    }

    static func sampleText(_ sample: SampleRecord?, error: ErrorRecord?) -> String {
        if let sample { return cell(sample.display) }
        if let error { return "（エラー: \(cell(error.message))）" }
        return "（未実行）"
    }

    /// Text for a table cell: Markdown and HTML specials escaped, `|` as `\|`, every line break as
    /// `<br>`, so any output stays inside its cell and shows literally.
    public static func cell(_ text: String) -> String {
        if text.isEmpty { return "（空）" }
        var out = ""
        var previousWasCR = false
        for ch in text.unicodeScalars {
            defer { previousWasCR = ch == "\r" }
            switch ch {
            case "\n": if !previousWasCR { out += "<br>" }
            case "\r", "\u{2028}", "\u{2029}", "\u{0B}", "\u{0C}", "\u{85}": out += "<br>"
            default: out += escapeScalar(ch)
            }
        }
        return out
    }

    /// Text outside tables (headings, list items): escaped like `cell`, line breaks as `<br>`.
    public static func inline(_ text: String) -> String { cell(text) }

    private static func escapeScalar(_ ch: Unicode.Scalar) -> String {
        switch ch {
        case "|": return "\\|"
        case "\\", "*", "_", "`", "~", "[", "]", "#": return "\\" + String(ch)
        case "<": return "&lt;"
        case ">": return "&gt;"
        case "&": return "&amp;"
        case "\t": return " "
        default:
            return ch.properties.generalCategory == .control ? "" : String(ch)
        }
    }

    static func fixed(_ value: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", value) }
}
