import KataribeApp
import KataribeGeneration
import Testing

@Suite("Reply text shown while streaming")
struct ReplyTextFilterTests {
    func streamed(_ pieces: [String], format: PromptFormat = .rinnaChat) -> String {
        var filter = ReplyTextFilter(format: format)
        return pieces.map { filter.push($0) }.joined() + filter.finish()
    }

    @Test("<NL> split over chunks becomes one newline, and a final </s> disappears")
    func markers() {
        #expect(streamed(["はい<N", "L>そう", "です</", "s>"]) == "はい\nそうです")
        #expect(streamed(["a</s>", "b"]) == "a</s>b")  // not at the end: ordinary text
        #expect(streamed(["<NL</s>"]) == "<NL")
        #expect(streamed(["x<", "N"]) == "x<N")
    }

    @Test("plain replies pass through untouched")
    func plain() {
        #expect(streamed(["a<NL>", "b</s>"], format: .plain) == "a<NL>b</s>")
    }

    @Test("any split of any mix of markers adds up to RinnaChatFormat.displayText of the whole")
    func randomSplits() {
        var generator = SeededGenerator(seed: 9)
        let atoms = ["<", "N", "L", ">", "/", "s", "<NL>", "</s>", "日", "a", "\n"]
        for _ in 0..<2000 {
            let text = (0..<Int.random(in: 0...12, using: &generator)).map { _ in atoms.randomElement(using: &generator)! }.joined()
            var pieces: [String] = []
            var rest = Substring(text)
            while !rest.isEmpty {
                let n = Int.random(in: 1...max(1, rest.count), using: &generator)
                pieces.append(String(rest.prefix(n)))
                rest = rest.dropFirst(n)
            }
            #expect(streamed(pieces) == RinnaChatFormat.displayText(fromReply: text), "\(pieces)")
        }
    }
}
