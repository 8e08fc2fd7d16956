import Foundation
import KataribeCompare
import Testing

/// Six models (five that ran, one that failed to load) × two prompts, one of which has markup in
/// its continuation prompt.
private let sixModelSuiteYAML = """
name: six
title: 六つのモデル <b>比較</b>
samples: 2
seed: 7
models:
  - label: calm-a
    model: demo-calm
  - label: calm-b
    model: demo-calm
  - label: calm-c
    model: demo-calm
  - label: calm-d
    model: demo-calm
  - label: sft
    model: demo-rinna-sft
  - label: broken
    model: demo-calm
prompts:
  - id: story
    title: 物語
    completion: "昔々<script>alert('x')</script>あるところに、"
    instruction: 物語を考えてください。
  - id: recipe
    title: カレー
    completion: カレーの作り方。まず、
    instruction: カレーの作り方を教えてください。
"""

/// A load error as long as the ones that made the issue: the same text for every sample of the model.
private let loadError = "failed to load broken from /models/broken: " + String(repeating: "safetensors header is truncated; ", count: 8)
    + "<expected 8 bytes>"

@Suite("HTML report: fonts, continuations, load failures, layout")
struct HTMLReportLayoutTests {
    func sixModelReport() throws -> CompareReport {
        let plan = try smallPlan(sixModelSuiteYAML)
        var entries: [ResultEntry] = []
        for prompt in plan.prompts {
            for model in plan.models {
                let cell = try #require(plan.cell(model: model.label, prompt: prompt.id))
                for index in 0..<plan.samples {
                    if model.label == "broken" {
                        entries.append(.error(errorRecord(cell: cell, index: index, stage: .load, message: loadError)))
                    } else if model.label == "sft" {
                        entries.append(.sample(sampleRecord(cell: cell, index: index, display: "はい。<i>\(model.label)</i> \(index)")))
                    } else {
                        // demo-calm decodes the whole sequence: the display is the prompt as sent, then the reply.
                        entries.append(.sample(sampleRecord(cell: cell, index: index, display: cell.prompt + "\(model.label) の続き\(index)")))
                    }
                }
            }
        }
        return CompareReport(plan: plan, entries: entries)
    }

    func occurrences(of needle: String, in text: String) -> Int { text.components(separatedBy: needle).count - 1 }

    @Test("Japanese text: lang=\"ja\", UTF-8, and a font stack with the fonts of stock Linux, Windows and macOS")
    func fonts() throws {
        let page = HTMLReport.render(try sixModelReport())
        #expect(page.contains("<html lang=\"ja\">"))
        #expect(page.contains("<meta charset=\"utf-8\">"))
        #expect(page.contains("body{font-family:\(HTMLReport.fontStack);"))
        let families = HTMLReport.fontStack.split(separator: ",").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\" ")) }
        for font in ["Hiragino Sans", "Yu Gothic", "Meiryo", "Noto Sans CJK JP", "Noto Sans JP", "Source Han Sans JP",
                     "IPAexGothic", "IPAGothic", "TakaoGothic", "VL Gothic", "Droid Sans Fallback", "WenQuanYi Micro Hei"] {
            #expect(families.contains(font), "missing \(font)")
        }
        // Names with spaces are quoted; the generic family comes last.
        #expect(HTMLReport.fontStack.contains("\"Noto Sans CJK JP\"") && families.last == "sans-serif")
        #expect(families.firstIndex(of: "Noto Sans CJK JP")! < families.firstIndex(of: "system-ui")!)
        #expect(HTMLReport.monospaceStack.contains("\"Noto Sans CJK JP\"") && HTMLReport.monospaceStack.hasSuffix(",monospace"))
        // No web fonts, nothing fetched.
        #expect(!page.contains("@font-face") && !page.contains("@import") && !page.contains("url("))
        #expect(!page.contains("<link") && !page.contains("<script") && !page.contains("src="))
    }

    @Test("a continuation shows its prompt in its own marked element before the generated text, all escaped")
    func continuationPrompt() throws {
        let page = HTMLReport.render(try sixModelReport())
        let prompt = "昔々&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;あるところに、"
        #expect(page.contains("<div class=\"out\"><span class=\"prompt\"><span class=\"tag\">プロンプト</span>\(prompt)</span>"
            + "<span class=\"gen\">calm-a の続き0</span></div>"))
        // Chosen sample plus the list of all samples, for each of the four plain models.
        #expect(occurrences(of: "<span class=\"tag\">プロンプト</span>\(prompt)</span>", in: page) == 4 * 3)
        // The chat model's reply answers its prompt: shown alone.
        #expect(page.contains("<div class=\"out\">はい。&lt;i&gt;sft&lt;/i&gt; 0</div>"))
        #expect(!page.contains("<script") && !page.contains("<i>") && !page.contains("<b>"))
        #expect(page.contains("<title>六つのモデル &lt;b&gt;比較&lt;/b&gt;</title>"))
    }

    @Test("a model that failed to load: its error once, in a banner; its cells only say they did not run")
    func loadFailure() throws {
        let page = HTMLReport.render(try sixModelReport())
        let escaped = HTMLReport.escape(loadError)
        #expect(escaped.contains("&lt;expected 8 bytes&gt;"))
        #expect(occurrences(of: escaped, in: page) == 1)
        #expect(occurrences(of: "safetensors header is truncated", in: page) == 8)  // the one copy's eight repeats
        #expect(occurrences(of: "class=\"banner\"", in: page) == 1)
        let banner = try #require(page.range(of: "class=\"banner\""))
        let grid = try #require(page.range(of: "<table class=\"grid"))
        #expect(banner.lowerBound < grid.lowerBound)
        #expect(page.contains("<strong>broken</strong> を読み込めませんでした。この列の 4 サンプルは実行されていません。"))
        #expect(page.contains("<th class=\"failed\">broken<span class=\"badge\">読み込み失敗</span></th>"))
        #expect(occurrences(of: "<div class=\"missing\">未実行（読み込み失敗: 上のエラーを参照）</div>", in: page) == 2)
        #expect(occurrences(of: "<div class=\"missing\">未実行（読み込み失敗）</div>", in: page) == 4)
        // The error table gives the model one row that points at the banner.
        #expect(page.contains("<tr><td>broken</td><td>すべて</td><td class=\"num\">4 件</td><td>load</td>"))
    }

    @Test("six models fit a laptop without scrolling sideways and stack, labelled, on a phone")
    func layout() throws {
        let page = HTMLReport.render(try sixModelReport())
        #expect(page.contains("<table class=\"grid cols-many\" style=\"--models:6\">"))
        #expect(page.contains("<colgroup><col class=\"pcol\"><col><col><col><col><col><col></colgroup>"))
        let style = HTMLReport.style
        #expect(style.contains(".grid{width:100%;table-layout:fixed;"))
        #expect(style.contains("overflow-wrap:anywhere"))
        // 9rem for the prompts and 9rem per model: six models need 63rem (1008px), under a 1366px
        // laptop's width less the page margins, and the grid stacks below 1080px.
        #expect(style.contains("min-width:calc(9rem + var(--models,1) * 9rem)"))
        #expect(style.contains("@media (max-width: 1080px){.grid.cols-many{min-width:0;"))
        #expect(style.contains("@media (max-width: 640px){"))
        #expect(style.contains(".grid>thead,.grid>colgroup{display:none}"))
        #expect(style.contains(".grid .cell-model{display:block}"))
        // Every cell carries its model's name for the stacked layout.
        for label in ["calm-a", "calm-b", "calm-c", "calm-d", "sft", "broken"] {
            #expect(occurrences(of: "<td><div class=\"cell-model\">\(label)</div>", in: page) == 2)
        }
        // Fewer models keep their columns down to phone width.
        let two = HTMLReport.render(CompareReport(plan: try smallPlan(), entries: []))
        #expect(two.contains("<table class=\"grid\" style=\"--models:2\">"))
    }
}
