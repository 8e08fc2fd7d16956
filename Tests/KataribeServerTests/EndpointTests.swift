import Foundation
import KataribeApp
import KataribeGeneration
import KataribeServer
import Testing

@Suite("OpenAI endpoints over HTTP")
struct EndpointTests {
    @Test("GET /v1/models lists the served model under its id")
    func modelsList() async throws {
        try await withServer(try Fixtures.calm(), configuration: ServerConfiguration(modelID: "calm-test")) { live in
            let reply = try await live.get("/v1/models")
            #expect(reply.status == 200)
            #expect(reply.json["object"] as? String == "list")
            let data = try #require(reply.json["data"] as? [[String: Any]])
            #expect(data.count == 1)
            #expect(data.first?["id"] as? String == "calm-test")
            #expect(data.first?["object"] as? String == "model")
            #expect(try await live.get("/v1/models/calm-test").status == 200)
            let missing = try await live.get("/v1/models/other")
            #expect(missing.status == 404)
            #expect(missing.error("code") == "model_not_found")
        }
    }

    @Test("a completion continues the prompt exactly as kataribe generate does")
    func completion() async throws {
        let model = try Fixtures.calm()
        let expected = try await expectedTexts(model, .text("吾輩は猫である。"), GenerationParameters(doSample: false, maxNewTokens: 12),
                                               format: .plain)
        try await withServer(model) { live in
            let reply = try await live.post("/v1/completions", ["prompt": "吾輩は猫である。", "max_tokens": 12, "temperature": 0])
            #expect(reply.status == 200)
            #expect(reply.headers["content-type"] == "application/json")
            // Watching for a disconnect uses up the connection's input, so it is not reused.
            #expect(reply.headers["connection"] == "close")
            let json = reply.json
            #expect(json["object"] as? String == "text_completion")
            #expect((json["id"] as? String)?.hasPrefix("cmpl-") == true)
            #expect(json["model"] as? String == "tiny-calm")
            let choice = try #require(json.choices.first)
            #expect(choice["text"] as? String == expected[0])
            #expect(choice["index"] as? Int == 0)
            #expect(["stop", "length"].contains(choice["finish_reason"] as? String))
            #expect(choice["logprobs"] is NSNull)
            let usage = try #require(json["usage"] as? [String: Any])
            #expect(usage["prompt_tokens"] as? Int == model.tokenizer.encode("吾輩は猫である。", addSpecialTokens: false).count)
            #expect(usage["total_tokens"] as? Int == (usage["prompt_tokens"] as? Int ?? 0) + (usage["completion_tokens"] as? Int ?? -1))
        }
    }

    @Test("a completion prompt may be token ids")
    func tokenPrompt() async throws {
        let model = try Fixtures.calm()
        let expected = try await expectedTexts(model, .tokens([704, 629, 347]), GenerationParameters(doSample: false, maxNewTokens: 6))
        try await withServer(model) { live in
            let reply = try await live.post("/v1/completions", ["prompt": [704, 629, 347], "max_tokens": 6, "temperature": 0])
            #expect(reply.json.choices.first?["text"] as? String == expected[0])
        }
    }

    @Test("a chat completion renders the messages in rinna's chat format, system text before the user's")
    func chatCompletion() async throws {
        let model = try Fixtures.rinnaChat()
        let conversation = Conversation([ChatTurn(.user, "丁寧に答えて\n日本の首都は？"), ChatTurn(.assistant, "東京です"),
                                         ChatTurn(.user, "人口は？")])
        let parameters = GenerationParameters(doSample: true, temperature: 0.8, minNewTokens: 10, maxNewTokens: 10, seed: 7)
        let expected = try await expectedTexts(model, .conversation(conversation), parameters)
        try await withServer(model) { live in
            let reply = try await live.post("/v1/chat/completions", [
                "model": "anything",
                "messages": [
                    ["role": "system", "content": "丁寧に答えて"], ["role": "user", "content": "日本の首都は？"],
                    ["role": "assistant", "content": "東京です"], ["role": "user", "content": [["type": "text", "text": "人口は？"]]],
                ],
                "temperature": 0.8, "max_tokens": 10, "min_tokens": 10, "seed": 7,
            ])
            #expect(reply.status == 200)
            let json = reply.json
            #expect(json["object"] as? String == "chat.completion")
            let choice = try #require(json.choices.first)
            let message = try #require(choice["message"] as? [String: Any])
            #expect(message["role"] as? String == "assistant")
            #expect(message["content"] as? String == expected[0])
            #expect(choice["finish_reason"] as? String == "length")
            #expect((json["usage"] as? [String: Any])?["completion_tokens"] as? Int == 10)
            #expect(json["seed"] as? Int == 7)
        }
    }

    @Test("chat on a plain-format model is refused with a 400 that says why")
    func chatOnPlainModel() async throws {
        try await withServer(try Fixtures.calm()) { live in
            let reply = try await live.post("/v1/chat/completions", ["messages": [["role": "user", "content": "こんにちは"]]])
            #expect(reply.status == 400)
            #expect(reply.error("code") == "chat_not_supported")
        }
    }

    @Test("n > 1 returns n choices, choice i being sample i of the request seed")
    func severalChoices() async throws {
        let model = try Fixtures.calm()
        let parameters = GenerationParameters(doSample: true, temperature: 1.0, maxNewTokens: 8, numReturnSequences: 3, seed: 42)
        let expected = try await expectedTexts(model, .text("今日は"), parameters, format: .plain)
        try await withServer(model) { live in
            let body: [String: Any] = ["prompt": "今日は", "max_tokens": 8, "temperature": 1.0, "n": 3, "seed": 42]
            let reply = try await live.post("/v1/completions", body)
            let choices = reply.json.choices
            #expect(choices.map { $0["index"] as? Int } == [0, 1, 2])
            #expect(choices.map { $0["text"] as? String } == expected)
            #expect(Set(expected).count > 1)

            var streamed = body
            streamed["stream"] = true
            #expect(try await live.post("/v1/completions", streamed).streamedTexts == [0: expected[0], 1: expected[1], 2: expected[2]])
        }
    }

    @Test("the same seed gives the same text; other seeds give other texts")
    func seedReproducibility() async throws {
        try await withServer(try Fixtures.calm()) { live in
            func text(seed: Int) async throws -> String? {
                try await live.post("/v1/completions", ["prompt": "今日は", "max_tokens": 12, "temperature": 1.0, "seed": seed])
                    .json.choices.first?["text"] as? String
            }
            let first = try await text(seed: 5)
            #expect(first != nil)
            #expect(try await text(seed: 5) == first)
            var others: Set<String?> = []
            for seed in 6...9 { others.insert(try await text(seed: seed)) }
            #expect(others.contains { $0 != first })
        }
    }

    @Test("a stop string ends the text just before it, as OpenAI does")
    func stopStrings() async throws {
        let model = try Fixtures.calm()
        try await withServer(model) { live in
            let request: [String: Any] = ["prompt": "吾輩は猫である。", "max_tokens": 20, "min_tokens": 20, "temperature": 0]
            let full = try #require(try await live.post("/v1/completions", request).json.choices.first?["text"] as? String)
            let characters = Array(full)
            try #require(characters.count >= 8)
            let stop = String(characters[4...5])
            let prefix = String(full[..<full.range(of: stop)!.lowerBound])

            var stopped = request
            stopped["stop"] = stop
            stopped["min_tokens"] = 0
            let reply = try await live.post("/v1/completions", stopped)
            let choice = try #require(reply.json.choices.first)
            #expect(choice["text"] as? String == prefix)
            #expect(choice["finish_reason"] as? String == "stop")

            stopped["stream"] = true
            stopped["stop"] = ["never-generated", stop]
            #expect(try await live.post("/v1/completions", stopped).streamedTexts[0] == prefix)
        }
    }

    @Test("logprobs report the chosen token's log-probability and the requested alternatives")
    func logprobs() async throws {
        try await withServer(try Fixtures.calm()) { live in
            let reply = try await live.post("/v1/completions", ["prompt": "今日は", "max_tokens": 5, "min_tokens": 5,
                                                                 "temperature": 0, "logprobs": 2])
            let logprobs = try #require(reply.json.choices.first?["logprobs"] as? [String: Any])
            let values = try #require(logprobs["token_logprobs"] as? [Double])
            let top = try #require(logprobs["top_logprobs"] as? [[String: Double]])
            #expect(values.count == 5)
            #expect((logprobs["tokens"] as? [String])?.count == 5)
            #expect((logprobs["text_offset"] as? [Int])?.first == 0)
            for (value, alternatives) in zip(values, top) {
                #expect(value <= 0)
                // Greedy picks the likeliest token, so it heads the alternatives.
                #expect(abs((alternatives.values.max() ?? 1) - value) < 1e-9)
                #expect((1...2).contains(alternatives.count))
            }

            let chat = try await withServer(try Fixtures.rinnaChat()) { rinna in
                try await rinna.post("/v1/chat/completions", ["messages": [["role": "user", "content": "こんにちは"]],
                                                              "max_tokens": 4, "min_tokens": 4, "temperature": 0,
                                                              "logprobs": true, "top_logprobs": 3])
            }
            let content = try #require((chat.json.choices.first?["logprobs"] as? [String: Any])?["content"] as? [[String: Any]])
            #expect(content.count == 4)
            #expect((content.first?["top_logprobs"] as? [[String: Any]])?.count == 3)
            #expect(content.first?["bytes"] is [Int])
        }
    }
}
