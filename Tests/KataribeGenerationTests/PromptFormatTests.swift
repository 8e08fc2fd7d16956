import Testing
@testable import KataribeGeneration

@Suite("rinna's chat prompt format")
struct RinnaChatFormatTests {
    @Test("renders the model card's example exactly")
    func cardExample() {
        let c = Conversation([
            ChatTurn(.user, "日本のおすすめの観光地を教えてください。"),
            ChatTurn(.assistant, "どの地域の観光地が知りたいですか？"),
            ChatTurn(.user, "渋谷の観光地を教えてください。"),
        ])
        #expect(RinnaChatFormat.prompt(for: c)
            == "ユーザー: 日本のおすすめの観光地を教えてください。<NL>システム: どの地域の観光地が知りたいですか？<NL>ユーザー: 渋谷の観光地を教えてください。<NL>システム: ")
    }

    @Test("newlines inside an utterance become <NL>, and parsing gives the same turns back")
    func multiLineRoundTrip() throws {
        let c = Conversation()
            .appending(.user, "次の文を要約して:\n一行目\n\n三行目")
            .appending(.assistant, "要約:\n- 一行目と三行目")
            .appending(.user, "ありがとう")
        let prompt = RinnaChatFormat.prompt(for: c)
        #expect(prompt == "ユーザー: 次の文を要約して:<NL>一行目<NL><NL>三行目<NL>システム: 要約:<NL>- 一行目と三行目<NL>ユーザー: ありがとう<NL>システム: ")
        #expect(try RinnaChatFormat.parse(prompt) == c)
    }

    @Test("only U+000A is a newline, as in Python's str.replace: \\r\\n keeps its \\r")
    func crlf() {
        #expect(RinnaChatFormat.prompt(for: Conversation([ChatTurn(.user, "a\r\nb")])) == "ユーザー: a\r<NL>b<NL>システム: ")
    }

    @Test("an empty history is just the reply cue, like the card's code")
    func empty() throws {
        #expect(RinnaChatFormat.prompt(for: Conversation()) == "<NL>システム: ")
        #expect(try RinnaChatFormat.parse("<NL>システム: ") == Conversation())
    }

    @Test("parsing rejects prompts without the reply cue or without a speaker")
    func parseErrors() {
        #expect(throws: PromptFormatError.missingResponseCue(expectedSuffix: "<NL>システム: ")) {
            try RinnaChatFormat.parse("ユーザー: こんにちは")
        }
        #expect(throws: PromptFormatError.unknownSpeaker(line: "こんにちは")) {
            try RinnaChatFormat.parse("こんにちは<NL>システム: ")
        }
    }

    @Test("the reply is shown with <NL> as newlines and a trailing </s> removed")
    func displayText() {
        #expect(RinnaChatFormat.displayText(fromReply: "はい。<NL>1. 渋谷<NL>2. 原宿</s>") == "はい。\n1. 渋谷\n2. 原宿")
        #expect(RinnaChatFormat.displayText(fromReply: "</s>途中") == "</s>途中")
    }

    @Test("dropping the oldest exchange keeps turns whole")
    func dropOldest() {
        let c = Conversation().appending(.user, "a").appending(.assistant, "b").appending(.user, "c")
        #expect(c.droppingOldestExchange() == Conversation([ChatTurn(.user, "c")]))
        #expect(Conversation().droppingOldestExchange() == Conversation())
    }
}

@Suite("Prompts longer than the context")
struct ContextBudgetTests {
    @Test("a prompt that fits is kept whole")
    func fits() throws {
        #expect(try ContextBudget.plan(promptTokenCount: 1900, maxNewTokens: 148, contextLength: 2048)
            == ContextPlan(droppedPromptTokens: 0, keptPromptTokens: 1900, maxNewTokens: 148))
    }

    @Test("by default an overflow is an error that names the numbers")
    func errorPolicy() {
        #expect(throws: ContextLengthError.tooLong(promptTokens: 2000, maxNewTokens: 100, contextLength: 2048)) {
            try ContextBudget.plan(promptTokenCount: 2000, maxNewTokens: 100, contextLength: 2048)
        }
        #expect("\(ContextLengthError.tooLong(promptTokens: 2000, maxNewTokens: 100, contextLength: 2048))".contains("2048"))
    }

    @Test("truncate-left drops the oldest prompt tokens so prompt + max_new_tokens fits")
    func truncateLeft() throws {
        let plan = try ContextBudget.plan(promptTokenCount: 10, maxNewTokens: 4, contextLength: 12, policy: .truncateLeft)
        #expect(plan == ContextPlan(droppedPromptTokens: 2, keptPromptTokens: 8, maxNewTokens: 4))
        #expect(ContextBudget.apply(plan, to: Array(0..<10)) == Array(2..<10))
    }

    @Test("truncation cannot help when max_new_tokens alone fills the context; empty prompts and bad limits are errors")
    func hopeless() {
        #expect(throws: ContextLengthError.tooLong(promptTokens: 5, maxNewTokens: 12, contextLength: 12)) {
            try ContextBudget.plan(promptTokenCount: 5, maxNewTokens: 12, contextLength: 12, policy: .truncateLeft)
        }
        #expect(throws: ContextLengthError.emptyPrompt) {
            try ContextBudget.plan(promptTokenCount: 0, maxNewTokens: 1, contextLength: 12)
        }
        #expect(throws: ContextLengthError.invalidLimits(maxNewTokens: 0, contextLength: 12)) {
            try ContextBudget.plan(promptTokenCount: 3, maxNewTokens: 0, contextLength: 12)
        }
    }
}
