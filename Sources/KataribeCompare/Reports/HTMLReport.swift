import Foundation
import KataribeApp
import KataribeGeneration

/// A self-contained HTML page (inline CSS, no scripts, no external assets): the prompts × models grid
/// with the chosen sample and all samples of each cell, speed per model, and the settings used.
public enum HTMLReport {
    public static func render(_ report: CompareReport) -> String {
        let plan = report.plan
        var out = """
        <!DOCTYPE html>
        <html lang="ja">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(plan.title))</title>
        <style>\(style)</style>
        </head>
        <body>
        <h1>\(escape(plan.title))</h1>
        <p class="meta">\(plan.models.count) モデル × \(plan.prompts.count) プロンプト × \(plan.samples) サンプル · seed \(plan.seed)\
        \(report.kataribeVersion.map { " · Kataribe " + escape($0) } ?? "")</p>

        """
        out += "<h2>出力</h2>\n<div class=\"scroll\"><table class=\"grid\">\n<thead><tr><th>プロンプト</th>"
        for model in plan.models { out += "<th>\(escape(model.label))</th>" }
        out += "</tr></thead>\n<tbody>\n"
        for row in report.rows {
            out += "<tr><th scope=\"row\"><div class=\"ptitle\">\(escape(row.prompt.title))</div><code>\(escape(row.prompt.id))</code></th>"
            for cell in row.cells { out += "<td>\(cellHTML(cell, samples: plan.samples))</td>" }
            out += "</tr>\n"
        }
        out += "</tbody></table></div>\n"

        out += "<h2>プロンプト</h2>\n<table>\n<thead><tr><th>id</th><th>題</th><th>続きを書くモデルへ</th><th>指示を受けるモデルへ</th></tr></thead>\n<tbody>\n"
        for prompt in plan.prompts {
            out += "<tr><td><code>\(escape(prompt.id))</code></td><td>\(escape(prompt.title))</td>"
                + "<td class=\"text\">\(escape(prompt.completion ?? "-"))</td><td class=\"text\">\(escape(prompt.instruction ?? "-"))</td></tr>\n"
        }
        out += "</tbody></table>\n"

        out += "<h2>速度</h2>\n<table>\n<thead><tr><th>モデル</th><th>tokens/s</th><th>読み込み (s)</th><th>出力トークン</th>"
            + "<th>完了</th><th>失敗</th><th>未実行</th></tr></thead>\n<tbody>\n"
        for s in report.stats {
            out += "<tr><td>\(escape(s.label))</td><td class=\"num\">\(s.tokensPerSecond.map { fixed($0, 1) } ?? "-")</td>"
                + "<td class=\"num\">\(s.loadSeconds.map { fixed($0, 1) } ?? "-")</td><td class=\"num\">\(s.outputTokens)</td>"
                + "<td class=\"num\">\(s.finished)</td><td class=\"num\">\(s.failed)</td><td class=\"num\">\(s.missing)</td></tr>\n"
        }
        out += "</tbody></table>\n"

        out += "<h2>設定</h2>\n<table>\n<thead><tr><th>モデル</th><th>読み込み元</th><th>プリセット</th><th>形式</th><th>dtype</th>"
            + "<th>トークナイザ</th><th>生成設定</th></tr></thead>\n<tbody>\n"
        for model in plan.models {
            let p = model.preset
            out += "<tr><td>\(escape(model.label))</td><td>\(escape(model.source.description))</td><td>\(escape(p.id))</td>"
                + "<td>\(p.promptFormat.name)</td><td>\(model.dtypeShown)</td><td>\(p.tokenizer.rawValue)</td>"
                + "<td>\(escape(ModelPresetListing.defaultsSummary(p.generation)))<details><summary>JSON</summary>"
                + "<pre>\(escape(parametersJSON(p.generation)))</pre></details></td></tr>\n"
        }
        out += "</tbody></table>\n"

        let errors = report.errors
        if !errors.isEmpty {
            out += "<h2>エラー</h2>\n<table>\n<thead><tr><th>モデル</th><th>プロンプト</th><th>#</th><th>段階</th><th>内容</th></tr></thead>\n<tbody>\n"
            for e in errors {
                out += "<tr><td>\(escape(e.modelLabel))</td><td><code>\(escape(e.promptID))</code></td><td class=\"num\">\(e.sampleIndex + 1)</td>"
                    + "<td>\(e.stage.rawValue)</td><td class=\"text\">\(escape(e.message))</td></tr>\n"
            }
            out += "</tbody></table>\n"
        }
        out += "</body>\n</html>\n"
        return out
    }

    static func cellHTML(_ cell: CompareReport.Cell, samples: Int) -> String {
        var out: String
        if let chosen = cell.chosen, let sample = cell.samples[chosen] {
            out = "<div class=\"out\">\(escape(sample.display))</div>"
        } else if let error = cell.errors.sorted(by: { $0.key < $1.key }).first?.value {
            out = "<div class=\"err\">エラー: \(escape(error.message))</div>"
        } else {
            out = "<div class=\"missing\">未実行</div>"
        }
        out += "<details><summary>全 \(samples) サンプル（完了 \(cell.finishedCount)）</summary><ol>"
        for (index, sample) in cell.samples.enumerated() {
            let chosen = index == cell.chosen ? " class=\"chosen\"" : ""
            if let sample {
                out += "<li\(chosen)><div class=\"out\">\(escape(sample.display))</div><div class=\"meta\">seed \(sample.seed) · "
                    + "\(sample.outputTokens) tokens · \(fixed(sample.timings.tokensPerSecond, 1)) tok/s · \(escape(sample.stopReason))</div></li>"
            } else if let error = cell.errors[index] {
                out += "<li><div class=\"err\">エラー（\(error.stage.rawValue)）: \(escape(error.message))</div></li>"
            } else {
                out += "<li><div class=\"missing\">未実行</div></li>"
            }
        }
        return out + "</ol></details>"
    }

    static func parametersJSON(_ parameters: GenerationParameters) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return (try? encoder.encode(parameters)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// Escapes text for element content and quoted attribute values.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for ch in text.unicodeScalars {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\r", "\n", "\t": out.unicodeScalars.append(ch)
            default:
                // C0/C1 controls are not allowed in HTML text; show them as the replacement character.
                if ch.properties.generalCategory == .control { out += "\u{FFFD}" } else { out.unicodeScalars.append(ch) }
            }
        }
        return out
    }

    static func fixed(_ value: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", value) }

    public static let style = """
    body{font-family:system-ui,-apple-system,"Hiragino Sans","Noto Sans JP",sans-serif;margin:2rem;color:#1d1d1f;background:#fff;line-height:1.5}
    h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2.2rem;border-bottom:1px solid #ddd}
    .meta{color:#666;font-size:.85rem}
    table{border-collapse:collapse;margin:.5rem 0}
    th,td{border:1px solid #d0d0d0;padding:.45rem .6rem;vertical-align:top;text-align:left}
    thead th{background:#f4f4f6;position:sticky;top:0}
    .scroll{overflow-x:auto}
    .grid td{min-width:16rem;max-width:28rem}
    .grid th[scope=row]{min-width:8rem;background:#fafafa}
    .ptitle{font-weight:600}
    .out,.text,pre{white-space:pre-wrap;word-break:break-word}
    .err{color:#b00020;white-space:pre-wrap}
    .missing{color:#999}
    details{margin-top:.5rem}summary{cursor:pointer;color:#555;font-size:.85rem}
    ol{padding-left:1.4rem}li{margin:.4rem 0}li.chosen{background:#fff8dc}
    .num{text-align:right;font-variant-numeric:tabular-nums}
    pre{margin:0;font-size:.8rem}
    code{background:#f4f4f6;padding:0 .2rem;border-radius:3px}
    """
}
