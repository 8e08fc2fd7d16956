import Foundation
import KataribeApp
import KataribeGeneration

// To see a report as readers will (Japanese fonts, six models at laptop width, the stacked phone
// layout), render it to PNG with headless Chromium: `python3 tools/report/screenshot.py out/report.html`
// (needs Playwright and a Chromium; it says so and exits 0 when they are missing).

/// A self-contained HTML page (inline CSS, no scripts, no web fonts, no external assets): the
/// prompts × models grid with the chosen sample and all samples of each cell, speed per model, and
/// the settings used.
///
/// - Japanese text: `lang="ja"` and UTF-8 on the document, and `fontStack`, which names the
///   Japanese fonts that ship with macOS/iOS, Windows and the usual Linux distributions before the
///   generic family (Android picks its CJK font from `lang`).
/// - A continuation (a model whose format has no turns) shows the prompt it was given, marked and
///   muted, in front of the generated text.
/// - A model that failed to load gets one banner above the grid with its error; its cells only say
///   that they did not run.
/// - The grid shares its width among the models (fixed layout, long words broken anywhere), so six
///   models fit a 1366px laptop without scrolling sideways. Where the columns would get too narrow
///   it stacks, one block per prompt with each cell under its model's name: with five or more
///   models below 1080px, with four below 900px, and always at phone width (≤ 640px).
public enum HTMLReport {
    /// Japanese-capable sans-serif fonts, platform by platform, in `font-family` syntax.
    public static let japaneseFonts = [
        // macOS / iOS
        "\"Hiragino Sans\"", "\"Hiragino Kaku Gothic ProN\"",
        // Windows
        "\"Yu Gothic UI\"", "\"Yu Gothic\"", "Meiryo",
        // Linux (Noto/Source Han packages, IPA, Takao, VL), then older Android and Chinese-first fonts with kana
        "\"Noto Sans CJK JP\"", "\"Noto Sans JP\"", "\"Source Han Sans JP\"", "\"Source Han Sans\"",
        "\"IPAexGothic\"", "\"IPAGothic\"", "\"IPAPGothic\"", "\"TakaoGothic\"", "\"TakaoPGothic\"",
        "\"VL Gothic\"", "\"VL PGothic\"", "\"Droid Sans Japanese\"", "\"Droid Sans Fallback\"",
        "\"WenQuanYi Micro Hei\"", "\"WenQuanYi Zen Hei\"",
    ].joined(separator: ",")

    /// The page's `font-family`: the system UI fonts of Apple and Windows for Latin (they have no
    /// kana, so Japanese falls through to the fonts after them), then the Japanese fonts, then
    /// `system-ui`, which on a Chinese-locale Windows or Linux can be a Chinese font that draws kanji
    /// in their Chinese forms, so it comes after them.
    public static let fontStack = "-apple-system,BlinkMacSystemFont,\"Segoe UI\",\(japaneseFonts),system-ui,sans-serif"

    /// `font-family` of code and JSON: monospaced Latin, then the Japanese fonts.
    public static let monospaceStack =
        "ui-monospace,SFMono-Regular,Menlo,Consolas,\"DejaVu Sans Mono\",\"Liberation Mono\",\"Noto Sans Mono CJK JP\",\(japaneseFonts),monospace"

    /// What the cell of a model that failed to load says (the error itself is in the banner above the grid).
    static let notLoadedNote = "未実行（読み込み失敗: 上のエラーを参照）"

    /// A model whose latest attempt to load failed, with its distinct error messages.
    struct LoadFailure {
        var label: String
        var messages: [String]
        /// Samples that did not run because of it.
        var samples: Int
    }

    static func loadFailures(_ report: CompareReport) -> [LoadFailure] {
        let errors = report.errors.filter { $0.stage == .load }
        return report.plan.models.compactMap { model in
            let mine = errors.filter { $0.modelLabel == model.label }
            guard !mine.isEmpty else { return nil }
            var messages: [String] = []
            for e in mine where !messages.contains(e.message) { messages.append(e.message) }
            return LoadFailure(label: model.label, messages: messages, samples: mine.count)
        }
    }

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
        out += "<h2>出力</h2>\n"
        let failures = loadFailures(report)
        for (index, failure) in failures.enumerated() {
            out += "<div class=\"banner\" id=\"load-error-\(index + 1)\"><strong>\(escape(failure.label))</strong> を読み込めませんでした。"
                + "この列の \(failure.samples) サンプルは実行されていません。"
            for message in failure.messages { out += "<pre class=\"errtext\">\(escape(message))</pre>" }
            out += "</div>\n"
        }
        let failed = Set(failures.map(\.label))
        if plan.models.contains(where: { !$0.preset.promptFormat.hasTurns }) {
            out += "<p class=\"meta\">続きを書くモデルの欄は、<span class=\"prompt\"><span class=\"tag\">プロンプト</span>与えた文</span>"
                + "の後にモデルが書いた続きを示します。</p>\n"
        }
        let columns = plan.models.count >= 5 ? " cols-many" : plan.models.count == 4 ? " cols-mid" : ""
        out += "<div class=\"scroll\"><table class=\"grid\(columns)\" style=\"--models:\(plan.models.count)\">\n"
        out += "<colgroup><col class=\"pcol\">" + String(repeating: "<col>", count: plan.models.count) + "</colgroup>\n"
        out += "<thead><tr><th>プロンプト</th>"
        for model in plan.models {
            out += failed.contains(model.label)
                ? "<th class=\"failed\">\(escape(model.label))<span class=\"badge\">読み込み失敗</span></th>"
                : "<th>\(escape(model.label))</th>"
        }
        out += "</tr></thead>\n<tbody>\n"
        for row in report.rows {
            out += "<tr><th scope=\"row\"><div class=\"ptitle\">\(escape(row.prompt.title))</div><code>\(escape(row.prompt.id))</code></th>"
            for cell in row.cells { out += "<td>\(cellHTML(cell, samples: plan.samples))</td>" }
            out += "</tr>\n"
        }
        out += "</tbody></table></div>\n"

        out += "<h2>プロンプト</h2>\n<div class=\"scroll\"><table>\n<thead><tr><th>id</th><th>題</th><th>続きを書くモデルへ</th><th>指示を受けるモデルへ</th></tr></thead>\n<tbody>\n"
        for prompt in plan.prompts {
            out += "<tr><td><code>\(escape(prompt.id))</code></td><td>\(escape(prompt.title))</td>"
                + "<td class=\"text\">\(escape(prompt.completion ?? "-"))</td><td class=\"text\">\(escape(prompt.instruction ?? "-"))</td></tr>\n"
        }
        out += "</tbody></table></div>\n"

        out += "<h2>速度</h2>\n<div class=\"scroll\"><table>\n<thead><tr><th>モデル</th><th>tokens/s</th><th>読み込み (s)</th><th>出力トークン</th>"
            + "<th>完了</th><th>失敗</th><th>未実行</th></tr></thead>\n<tbody>\n"
        for s in report.stats {
            out += "<tr><td>\(escape(s.label))</td><td class=\"num\">\(s.tokensPerSecond.map { fixed($0, 1) } ?? "-")</td>"
                + "<td class=\"num\">\(s.loadSeconds.map { fixed($0, 1) } ?? "-")</td><td class=\"num\">\(s.outputTokens)</td>"
                + "<td class=\"num\">\(s.finished)</td><td class=\"num\">\(s.failed)</td><td class=\"num\">\(s.missing)</td></tr>\n"
        }
        out += "</tbody></table></div>\n"

        out += "<h2>設定</h2>\n<div class=\"scroll\"><table>\n<thead><tr><th>モデル</th><th>読み込み元</th><th>プリセット</th><th>形式</th><th>dtype</th>"
            + "<th>トークナイザ</th><th>生成設定</th></tr></thead>\n<tbody>\n"
        for model in plan.models {
            let p = model.preset
            out += "<tr><td>\(escape(model.label))</td><td>\(escape(model.source.description))</td><td>\(escape(p.id))</td>"
                + "<td>\(p.promptFormat.name)</td><td>\(model.dtypeShown)</td><td>\(p.tokenizer.rawValue)</td>"
                + "<td>\(escape(ModelPresetListing.defaultsSummary(p.generation)))<details><summary>JSON</summary>"
                + "<pre>\(escape(parametersJSON(p.generation)))</pre></details></td></tr>\n"
        }
        out += "</tbody></table></div>\n"

        // Generation errors one per sample; load errors one row per model, their text being in the banner.
        let errors = report.errors.filter { $0.stage != .load }
        if !errors.isEmpty || !failures.isEmpty {
            out += "<h2>エラー</h2>\n<div class=\"scroll\"><table>\n<thead><tr><th>モデル</th><th>プロンプト</th><th>#</th><th>段階</th><th>内容</th></tr></thead>\n<tbody>\n"
            for failure in failures {
                out += "<tr><td>\(escape(failure.label))</td><td>すべて</td><td class=\"num\">\(failure.samples) 件</td>"
                    + "<td>\(ErrorRecord.Stage.load.rawValue)</td><td class=\"text\">読み込み失敗（内容は「出力」の上に表示）</td></tr>\n"
            }
            for e in errors {
                out += "<tr><td>\(escape(e.modelLabel))</td><td><code>\(escape(e.promptID))</code></td><td class=\"num\">\(e.sampleIndex + 1)</td>"
                    + "<td>\(e.stage.rawValue)</td><td class=\"text\">\(escape(e.message))</td></tr>\n"
            }
            out += "</tbody></table></div>\n"
        }
        out += "</body>\n</html>\n"
        return out
    }

    static func cellHTML(_ cell: CompareReport.Cell, samples: Int) -> String {
        // Shown only where the grid is stacked and has no header row.
        var out = "<div class=\"cell-model\">\(escape(cell.model.label))</div>"
        if let chosen = cell.chosen, let sample = cell.samples[chosen] {
            out += outputHTML(sample, model: cell.model)
        } else if let error = cell.errors.sorted(by: { $0.key < $1.key }).first?.value {
            out += error.stage == .load
                ? "<div class=\"missing\">\(notLoadedNote)</div>"
                : "<div class=\"err\">エラー: \(escape(error.message))</div>"
        } else {
            out += "<div class=\"missing\">未実行</div>"
        }
        out += "<details><summary>全 \(samples) サンプル（完了 \(cell.finishedCount)）</summary><ol>"
        for (index, sample) in cell.samples.enumerated() {
            let chosen = index == cell.chosen ? " class=\"chosen\"" : ""
            if let sample {
                out += "<li\(chosen)>\(outputHTML(sample, model: cell.model))<div class=\"meta\">seed \(sample.seed) · "
                    + "\(sample.outputTokens) tokens · \(fixed(sample.timings.tokensPerSecond, 1)) tok/s · \(escape(sample.stopReason))</div></li>"
            } else if let error = cell.errors[index] {
                out += error.stage == .load
                    ? "<li><div class=\"missing\">未実行（読み込み失敗）</div></li>"
                    : "<li><div class=\"err\">エラー（\(error.stage.rawValue)）: \(escape(error.message))</div></li>"
            } else {
                out += "<li><div class=\"missing\">未実行</div></li>"
            }
        }
        return out + "</ol></details>"
    }

    /// A sample's text: for a continuation, the prompt (marked, muted) and then what the model wrote.
    static func outputHTML(_ sample: SampleRecord, model: PlannedModel) -> String {
        guard let parts = continuationParts(sample, preset: model.preset) else {
            return "<div class=\"out\">\(escape(sample.display))</div>"
        }
        return "<div class=\"out\"><span class=\"prompt\"><span class=\"tag\">プロンプト</span>\(escape(parts.prompt))</span>"
            + "<span class=\"gen\">\(escape(parts.continuation))</span></div>"
    }

    /// The prompt and the generated text of a continuation: nil for formats with turns (a reply
    /// answers its prompt rather than continuing it) and for an empty prompt. When the preset decodes
    /// the whole sequence, `display` is the prompt followed by the reply (`PromptText.display`);
    /// otherwise it is the reply alone.
    static func continuationParts(_ sample: SampleRecord, preset: ModelPreset) -> (prompt: String, continuation: String)? {
        guard !preset.promptFormat.hasTurns, !sample.prompt.isEmpty else { return nil }
        guard preset.decodeIncludesPrompt else { return (sample.prompt, sample.display) }
        // Split on scalars: the two parts give back `display` exactly.
        let display = sample.display.unicodeScalars, prompt = sample.prompt.unicodeScalars
        guard display.starts(with: prompt) else { return nil }
        let split = display.index(display.startIndex, offsetBy: prompt.count)
        return (sample.prompt, String(display[split...]))
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

    /// The rules that turn the grid selected by `table` into one block per prompt, each cell under
    /// its model's name (the header row hidden).
    static func stackedGrid(_ table: String) -> String {
        let row = "\(table)>tbody>tr", cells = "\(row)>th,\(row)>td"
        return "\(table){min-width:0;table-layout:auto}"
            + "\(table),\(table)>tbody,\(row),\(cells){display:block;width:auto}"
            + "\(table)>thead,\(table)>colgroup{display:none}"
            + "\(row){margin:0 0 1.2rem;border:1px solid #d0d0d0;border-radius:6px}"
            + "\(cells){border:0;border-top:1px solid #e4e4e4}\(row)>th{border-top:0}"
            + "\(table) .cell-model{display:block}"
    }

    public static let style = """
    body{font-family:\(fontStack);margin:2rem;color:#1d1d1f;background:#fff;line-height:1.6}
    h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2.2rem;border-bottom:1px solid #ddd}
    .meta{color:#666;font-size:.85rem}
    table{border-collapse:collapse;margin:.5rem 0}
    th,td{border:1px solid #d0d0d0;padding:.45rem .6rem;vertical-align:top;text-align:left;word-break:break-word;overflow-wrap:anywhere}
    thead th{background:#f4f4f6}
    .scroll{overflow-x:auto}
    .grid{width:100%;table-layout:fixed;min-width:calc(9rem + var(--models,1) * 9rem)}
    .grid col.pcol{width:9rem}
    .grid td{font-size:.95rem}
    .grid th[scope=row]{background:#fafafa}
    .grid th.failed{color:#b00020}
    .badge{display:block;font-size:.75rem;font-weight:normal}
    .cell-model{display:none;font-weight:600;font-size:.85rem;color:#444;margin-bottom:.2rem}
    .ptitle{font-weight:600}
    .out,.text,pre{white-space:pre-wrap;word-break:break-word;overflow-wrap:anywhere}
    .prompt{color:#6b6b6b;background:#efeff3;border-radius:3px;-webkit-box-decoration-break:clone;box-decoration-break:clone}
    .tag{font-size:.7rem;color:#555;border:1px solid #b8b8c0;border-radius:3px;padding:0 .25rem;margin-right:.3rem;user-select:none;-webkit-user-select:none}
    .gen{color:#1d1d1f}
    .banner{border:1px solid #e3a1aa;background:#fdf1f2;color:#7a0016;border-radius:6px;padding:.6rem .8rem;margin:.6rem 0}
    .banner .errtext{margin-top:.4rem;color:#b00020;font-size:.8rem}
    .err{color:#b00020;white-space:pre-wrap}
    .missing{color:#999}
    details{margin-top:.5rem}summary{cursor:pointer;color:#555;font-size:.85rem}
    ol{padding-left:1.4rem}li{margin:.4rem 0}li.chosen{background:#fff8dc}
    .num{text-align:right;font-variant-numeric:tabular-nums}
    pre{margin:0;font-size:.8rem}
    pre,code{font-family:\(monospaceStack)}
    code{background:#f4f4f6;padding:0 .2rem;border-radius:3px}
    @media (max-width: 1080px){\(stackedGrid(".grid.cols-many"))}
    @media (max-width: 900px){\(stackedGrid(".grid.cols-mid"))}
    @media (max-width: 640px){body{margin:1rem}th,td{padding:.35rem .45rem}\(stackedGrid(".grid"))}
    """
}
