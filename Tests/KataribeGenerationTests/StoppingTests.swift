import Testing
@testable import KataribeGeneration

@Suite("Stop strings on streamed text")
struct StopStringMatcherTests {
    @Test("a stop string split across token deltas stops when its last character arrives")
    func acrossBoundaries() {
        var m = StopStringMatcher(stopStrings: ["ユーザー:"])
        do { let hit = m.append("はい。\nユー"); #expect(!hit) }
        do { let hit = m.append("ザ"); #expect(!hit) }
        do { let hit = m.append("ー: 次"); #expect(hit) }
        #expect(m.matchedStopString == "ユーザー:")
        #expect(m.text(.keep) == "はい。\nユーザー: 次")
        #expect(m.text(.strip) == "はい。\n")
    }

    @Test("of several stop strings the one completed first wins")
    func earliest() {
        var m = StopStringMatcher(stopStrings: ["cd", "abc"])
        do { let hit = m.append("xabcd"); #expect(hit) }
        #expect(m.matchedStopString == "abc")
        #expect(m.text(.strip) == "x")
    }

    @Test("streaming under .strip holds back only what could still become a stop string")
    func safePrefix() {
        var m = StopStringMatcher(stopStrings: ["###", "END"])
        m.append("hello ##")
        #expect(m.safePrefixLength == 6)  // "hello " is safe, "##" may become "###"
        m.append("x")
        #expect(m.safePrefixLength == 9)
        m.append("EN")
        #expect(m.safePrefixLength == 9)
        m.append("D")
        #expect(m.safePrefixLength == 9)  // the match starts at 9
    }

    @Test("without stop strings nothing ever matches")
    func none() {
        var m = StopStringMatcher(stopStrings: [])
        do { let hit = m.append("anything"); #expect(!hit) }
        #expect(m.safePrefixLength == 8)
    }
}

@Suite("A sampling session's stopping rules")
struct SessionStoppingTests {
    /// Greedy session over a 10-token vocabulary whose logits always favour `favourite`.
    func session(_ p: GenerationParameters, prompt: [Int] = [1, 2]) throws -> SamplingSession {
        try SamplingSession(parameters: p.resolved(), promptTokens: prompt, seed: 0)
    }

    @Test("any of several eos ids stops with .eos, and the eos id is kept in the tokens")
    func eos() throws {
        let s = try session(GenerationParameters(maxNewTokens: 10, eosTokenIds: [7, 9]))
        #expect(s.accept(4) == nil)
        #expect(s.accept(9) == .eos)
        #expect(Array(s.generatedTokens) == [4, 9])
        let r = s.result(text: "x")
        #expect(r.stopReason == .eos && r.tokens == [4, 9])
        #expect(Array(r.tokensForDecoding(skipEOS: true)) == [4])
        #expect(Array(r.tokensForDecoding(skipEOS: false)) == [4, 9])
    }

    @Test("max_new_tokens stops with .length after exactly that many tokens")
    func length() throws {
        let s = try session(GenerationParameters(maxNewTokens: 3))
        #expect(s.accept(1) == nil)
        #expect(s.accept(1) == nil)
        #expect(s.accept(1) == .length)
        #expect(throws: SamplingError.sessionFinished) {
            var logits: [Float] = [0, 1]
            _ = try s.nextToken(logits: &logits)
        }
    }

    @Test("a stop string in the decoded text stops with .stopString; text kept by default, cut with .strip")
    func stopString() throws {
        let keep = try session(GenerationParameters(maxNewTokens: 10, stopStrings: ["<NL>ユーザー"]))
        #expect(keep.accept(5, decodedText: "答え<NL>ユ") == nil)
        #expect(keep.accept(6, decodedText: "ーザー: ") == .stopString)
        #expect(keep.result().text == "答え<NL>ユーザー: ")
        let strip = try session(GenerationParameters(maxNewTokens: 10, stopStrings: ["<NL>ユーザー"], stopStringHandling: .strip))
        strip.accept(5, decodedText: "答え<NL>ユ")
        strip.accept(6, decodedText: "ーザー: ")
        #expect(strip.result().text == "答え")
        #expect(strip.result(text: "答え<NL>ユーザー: ").text == "答え")
    }

    @Test("text arriving late (a held-back character) can still trigger a stop string")
    func lateText() throws {
        let s = try session(GenerationParameters(maxNewTokens: 10, stopStrings: ["。"]))
        #expect(s.accept(3, decodedText: "") == nil)
        #expect(s.acceptText("。") == .stopString)
    }

    @Test("eos beats a stop string and the length limit on the same token")
    func priority() throws {
        let s = try session(GenerationParameters(maxNewTokens: 1, eosTokenIds: [0], stopStrings: ["x"]))
        #expect(s.accept(0, decodedText: "x") == .eos)
        let t = try session(GenerationParameters(maxNewTokens: 1, stopStrings: ["x"]))
        #expect(t.accept(4, decodedText: "x") == .stopString)
    }

    @Test("cancel stops with .cancelled and later tokens are ignored")
    func cancel() throws {
        let s = try session(GenerationParameters(maxNewTokens: 10))
        s.accept(1)
        s.cancel()
        #expect(s.stopReason == .cancelled)
        #expect(s.accept(2) == .cancelled)
        #expect(Array(s.generatedTokens) == [1])
    }
}
