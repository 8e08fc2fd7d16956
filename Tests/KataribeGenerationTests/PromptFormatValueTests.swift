import Foundation
import Testing
import KataribeGeneration

/// A format with a system role, written the way a chat-template format would plug in: a conforming
/// type, nothing else.
private struct TaggedChatFormat: PromptFormatStyle {
    var name: String { "tagged-test" }
    var roles: Set<ChatRole> { [.system, .user, .assistant] }
    var replyMarkers: ReplyMarkers { ReplyMarkers(endOfReply: "<|end|>") }

    func render(_ conversation: Conversation) -> String? {
        conversation.turns.map { "<|\($0.role.rawValue)|>\($0.text)<|end|>" }.joined() + "<|assistant|>"
    }
}

// The expected strings are what Kataribe produced before prompt formats became values (the server's
// system-message folding followed by RinnaChatFormat.prompt(for:)), captured from that code.
@Suite("Prompt formats are values with roles")
struct PromptFormatValueTests {
    static let rinna = PromptFormat.rinnaChat
    static let plain = PromptFormat.plain

    func conversation(_ turns: [(ChatRole, String)]) -> Conversation {
        Conversation(turns.map { ChatTurn($0.0, $0.1) })
    }

    @Test("rinna: a user-only conversation, and a typed text as the user's turn")
    func rinnaUserOnly() {
        #expect(Self.rinna.prompt(for: conversation([(.user, "日本の首都は？")])) == "ユーザー: 日本の首都は？<NL>システム: ")
        #expect(Self.rinna.prompt(forText: "日本の首都は？") == "ユーザー: 日本の首都は？<NL>システム: ")
        #expect(Self.rinna.prompt(forText: "物語を書いて\n短く") == "ユーザー: 物語を書いて<NL>短く<NL>システム: ")
    }

    @Test("rinna has no system role: a system message goes in front of the user's turn")
    func rinnaSystemAndUser() {
        #expect(!Self.rinna.hasSystemRole && Self.rinna.hasTurns && Self.rinna.roles == [.user, .assistant])
        #expect(Self.rinna.prompt(for: conversation([(.system, "丁寧に答えて"), (.user, "日本の首都は？")]))
            == "ユーザー: 丁寧に答えて<NL>日本の首都は？<NL>システム: ")
        #expect(Self.rinna.prompt(for: conversation([(.system, "行1\n行2\r\n行3"), (.user, "x\ny")]))
            == "ユーザー: 行1<NL>行2\r<NL>行3<NL>x<NL>y<NL>システム: ")
        #expect(Self.rinna.prompt(for: conversation([(.system, "S1"), (.system, "D2"), (.user, "U")]))
            == "ユーザー: S1<NL>D2<NL>U<NL>システム: ")
        #expect(Self.rinna.prompt(for: conversation([(.system, ""), (.user, "a")])) == "ユーザー: a<NL>システム: ")
        #expect(Self.rinna.prompt(for: conversation([(.system, "s"), (.user, "")])) == "ユーザー: s<NL><NL>システム: ")
    }

    @Test("rinna: multi-turn conversations, with system messages anywhere")
    func rinnaMultiTurn() {
        #expect(Self.rinna.prompt(for: conversation([
            (.user, "日本のおすすめの観光地を教えてください。"), (.assistant, "どの地域の観光地が知りたいですか？"),
            (.user, "渋谷の観光地を教えてください。"),
        ])) == "ユーザー: 日本のおすすめの観光地を教えてください。<NL>システム: どの地域の観光地が知りたいですか？<NL>ユーザー: 渋谷の観光地を教えてください。<NL>システム: ")
        #expect(Self.rinna.prompt(for: conversation([
            (.system, "丁寧に答えて"), (.user, "日本の首都は？"), (.assistant, "東京です"), (.user, "人口は？"),
        ])) == "ユーザー: 丁寧に答えて<NL>日本の首都は？<NL>システム: 東京です<NL>ユーザー: 人口は？<NL>システム: ")
        // Before the next user turn, however many turns come between.
        #expect(Self.rinna.prompt(for: conversation([(.user, "a"), (.assistant, "b"), (.system, "s"), (.user, "c")]))
            == "ユーザー: a<NL>システム: b<NL>ユーザー: s<NL>c<NL>システム: ")
        #expect(Self.rinna.prompt(for: conversation([(.user, "a"), (.system, "s"), (.assistant, "b"), (.user, "c")]))
            == "ユーザー: a<NL>システム: b<NL>ユーザー: s<NL>c<NL>システム: ")
        // After the last user turn: in front of that one.
        #expect(Self.rinna.prompt(for: conversation([(.user, "a"), (.system, "s")])) == "ユーザー: s<NL>a<NL>システム: ")
        #expect(Self.rinna.prompt(for: conversation([
            (.system, "s1"), (.user, "a"), (.assistant, "b"), (.user, "c"), (.system, "s2"), (.system, "s3"),
        ])) == "ユーザー: s1<NL>a<NL>システム: b<NL>ユーザー: s2<NL>s3<NL>c<NL>システム: ")
    }

    @Test("RinnaChatFormat.prompt(for:) applies the same rule as the format value")
    func rinnaStaticMatchesValue() {
        let c = conversation([(.system, "s"), (.user, "a"), (.assistant, "b"), (.user, "c")])
        #expect(RinnaChatFormat.prompt(for: c) == Self.rinna.prompt(for: c))
    }

    @Test("plain: typed text is continued as given; it has no turns, so no conversation can be written")
    func plainFormat() {
        #expect(Self.plain.prompt(forText: "昔々あるところに、") == "昔々あるところに、")
        #expect(Self.plain.prompt(forText: "a\nb<NL>") == "a\nb<NL>")
        #expect(!Self.plain.hasTurns && !Self.plain.hasSystemRole && Self.plain.roles.isEmpty)
        #expect(Self.plain.prompt(for: conversation([(.user, "日本の首都は？")])) == nil)
        #expect(Self.plain.prompt(for: conversation([(.system, "丁寧に答えて"), (.user, "日本の首都は？")])) == nil)
        #expect(Self.plain.prompt(for: conversation([(.user, "a"), (.assistant, "b"), (.user, "c")])) == nil)
    }

    @Test("reply markers: rinna shows <NL> as newlines and drops a final </s>; plain shows replies as they are")
    func replyMarkers() {
        let replies = ["はい。<NL>1. 渋谷<NL>2. 原宿</s>", "</s>途中", "a<NL>b</s>", "<NL</s>", "plain text\n", ""]
        #expect(replies.map(Self.rinna.displayText(fromReply:)) == ["はい。\n1. 渋谷\n2. 原宿", "</s>途中", "a\nb", "<NL", "plain text\n", ""])
        #expect(replies.map(Self.plain.displayText(fromReply:)) == replies)
        #expect(Self.rinna.replyMarkers == ReplyMarkers(newline: "<NL>", endOfReply: "</s>"))
        #expect(Self.plain.replyMarkers.isEmpty)
    }

    @Test("a format with a system role gets system turns as they are, in place")
    func systemRoleFormat() {
        let tagged = PromptFormat(TaggedChatFormat())
        #expect(tagged.hasSystemRole && tagged.hasTurns)
        #expect(tagged.prompt(for: conversation([(.system, "丁寧に"), (.user, "こんにちは"), (.assistant, "はい"), (.user, "で？"), (.system, "短く")]))
            == "<|system|>丁寧に<|end|><|user|>こんにちは<|end|><|assistant|>はい<|end|><|user|>で？<|end|><|system|>短く<|end|><|assistant|>")
        #expect(tagged.prompt(forText: "x") == "<|user|>x<|end|><|assistant|>")
        #expect(tagged.displayText(fromReply: "はい<|end|>") == "はい")
        #expect(tagged != .rinnaChat && tagged == PromptFormat(TaggedChatFormat()))
    }

    @Test("folding system turns keeps conversations without them as they are")
    func foldingIsIdentityWithoutSystemTurns() {
        let c = conversation([(.user, "a"), (.assistant, "b"), (.user, "c")])
        #expect(c.foldingSystemTurnsIntoUserTurns() == c)
        #expect(conversation([(.system, "s")]).foldingSystemTurnsIntoUserTurns() == Conversation())
        #expect(conversation([(.user, "a"), (.system, "s")]).endsWithUserTurn)
        #expect(!conversation([(.user, "a"), (.assistant, "b"), (.system, "s")]).endsWithUserTurn)
        #expect(!conversation([(.system, "s")]).endsWithUserTurn && !Conversation().endsWithUserTurn)
    }

    @Test("names: one lookup for every spelling; unknown names are not formats")
    func names() {
        #expect(PromptFormat.names == ["plain", "rinna-chat", "template"])
        #expect(PromptFormat.named("plain") == .plain && PromptFormat.named("rinna-chat") == .rinnaChat)
        #expect(PromptFormat.named("template") == .modelTemplate && PromptFormat.modelTemplate.isUnresolvedModelTemplate)
        #expect(PromptFormat.named("rinna_chat") == nil && PromptFormat.named("Plain") == nil && PromptFormat.named("") == nil)
        #expect("\(PromptFormat.rinnaChat)" == "rinna-chat")
    }

    @Test("stored as the bare name, as when formats were enum cases; an unknown name does not decode")
    func codable() throws {
        let json = try JSONEncoder().encode([PromptFormat.plain, .rinnaChat])
        #expect(String(decoding: json, as: UTF8.self) == #"["plain","rinna-chat"]"#)
        #expect(try JSONDecoder().decode([PromptFormat].self, from: json) == [.plain, .rinnaChat])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([PromptFormat].self, from: Data(#"["chatml"]"#.utf8)) }
    }
}
