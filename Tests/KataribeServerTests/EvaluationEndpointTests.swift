import Foundation
import KataribeApp
import KataribeModels
import KataribeServer
import KataribeTensor
import Testing

/// What lm-evaluation-harness needs of the server: `echo` with prompt log-probabilities, several
/// prompts per request, and vLLM's tokenizer endpoints.
@Suite("Serving lm-evaluation-harness: echo, prompt log-probabilities, tokenizer endpoints")
struct EvaluationEndpointTests {
    /// log_softmax(logits before position p)[ids[p]] for p ≥ 1, from the model's scoring path.
    static func promptLogprobs(_ model: LoadedModel, _ ids: [Int]) throws -> [Double] {
        let rows = try model.model.logits(for: ids)
        return (1..<ids.count).map { p in VectorOps.logSoftmax(rows[p - 1])[ids[p]] }
    }

    @Test("echo with token-id prompts (lm-eval's log-likelihood request): prompt tokens first, the first null, then the generated token")
    func echoTokenPrompts() async throws {
        let model = try Fixtures.calm()
        let prompts = [[5, 6, 7, 8, 9], [40, 41, 42]]
        let expected = try prompts.map { try Self.promptLogprobs(model, $0) }
        try await withServer(model) { live in
            let reply = try await live.post("/v1/completions", ["prompt": prompts, "echo": true, "max_tokens": 1, "logprobs": 1,
                                                               "temperature": 0, "seed": 1234])
            #expect(reply.status == 200, "\(reply.body)")
            let choices = reply.json.choices.sorted { ($0["index"] as? Int ?? 0) < ($1["index"] as? Int ?? 0) }
            #expect(choices.count == 2)
            for (i, choice) in choices.enumerated() {
                let logprobs = try #require(choice["logprobs"] as? [String: Any])
                let values = try #require(logprobs["token_logprobs"] as? [Any])
                let tops = try #require(logprobs["top_logprobs"] as? [Any])
                #expect(values.count == prompts[i].count + 1 && tops.count == values.count)
                #expect(values.first is NSNull && tops.first is NSNull)
                for (p, want) in expected[i].enumerated() {
                    let got = try #require(values[p + 1] as? Double)
                    #expect(abs(got - want) < 1e-5, "prompt \(i) position \(p + 1): \(got) vs \(want)")
                    // The actual token is among the alternatives, so lm-eval's is_greedy check can run.
                    let top = try #require(tops[p + 1] as? [String: Double])
                    #expect(!top.isEmpty && top.values.contains { abs($0 - got) < 1e-12 })
                }
                #expect(values.last is Double, "the generated token's log-probability closes the list")
                #expect((logprobs["text_offset"] as? [Int])?.count == values.count)
            }
            #expect((reply.json["usage"] as? [String: Any])?["prompt_tokens"] as? Int == 8)
        }
    }

    @Test("echo with max_tokens 0 returns the prompt alone; a text prompt is echoed as sent")
    func echoPromptOnly() async throws {
        try await withServer(try Fixtures.calm()) { live in
            let reply = try await live.post("/v1/completions", ["prompt": "吾輩は猫である。", "echo": true, "max_tokens": 0, "logprobs": 0])
            #expect(reply.status == 200, "\(reply.body)")
            let choice = try #require(reply.json.choices.first)
            #expect(choice["text"] as? String == "吾輩は猫である。")
            let logprobs = try #require(choice["logprobs"] as? [String: Any])
            let tokens = try #require(logprobs["tokens"] as? [String])
            #expect(tokens.joined() == "吾輩は猫である。")
            #expect((reply.json["usage"] as? [String: Any])?["completion_tokens"] as? Int == 0)

            let continued = try await live.post("/v1/completions", ["prompt": "吾輩は", "echo": true, "max_tokens": 3, "temperature": 0])
            let text = try #require(continued.json.choices.first?["text"] as? String)
            let plain = try await live.post("/v1/completions", ["prompt": "吾輩は", "max_tokens": 3, "temperature": 0])
            #expect(text == "吾輩は" + (plain.json.choices.first?["text"] as? String ?? "?"))
        }
    }

    @Test("n > 1 at temperature 0 gives n identical greedy choices; several text prompts are numbered prompt by prompt")
    func greedyCopiesAndPromptLists() async throws {
        try await withServer(try Fixtures.calm()) { live in
            let reply = try await live.post("/v1/completions", ["prompt": ["今日は", "東京の"], "n": 2, "temperature": 0, "max_tokens": 4])
            #expect(reply.status == 200, "\(reply.body)")
            let texts = reply.json.choices.sorted { ($0["index"] as? Int ?? 0) < ($1["index"] as? Int ?? 0) }.map { $0["text"] as? String }
            #expect(texts.count == 4 && texts[0] == texts[1] && texts[2] == texts[3])
            let first = try await live.post("/v1/completions", ["prompt": "今日は", "temperature": 0, "max_tokens": 4])
            #expect(texts[0] == first.json.choices.first?["text"] as? String)
        }
    }

    @Test("no field is silently ignored: unknown fields, prompt_logprobs, stream_options without stream, JSON response_format, echo with stream")
    func refusals() async throws {
        try await withServer(try Fixtures.calm()) { live in
            let refused: [([String: Any], String)] = [
                (["prompt": "a", "max_tokens": 1, "frobnicate": true], "frobnicate"),
                (["prompt": "a", "max_tokens": 1, "prompt_logprobs": 1], "prompt_logprobs"),
                (["prompt": "a", "max_tokens": 1, "stream_options": ["include_usage": true]], "stream_options"),
                (["prompt": "a", "max_tokens": 1, "response_format": ["type": "json_object"]], "response_format"),
                (["prompt": "a", "max_tokens": 1, "echo": true, "stream": true], "echo"),
            ]
            for (body, param) in refused {
                let reply = try await live.post("/v1/completions", body)
                #expect(reply.status == 400, "\(body)")
                #expect(reply.error("param") == param, "\(reply.body)")
            }
            let chat = try await live.post("/v1/chat/completions", ["messages": [["role": "user", "content": "a"]], "max_tokens": 1,
                                                                   "functions": []])
            #expect(chat.status == 400 && chat.error("param") == "functions")
            // What compare's endpoint backend sends is understood.
            let accepted = try await live.post("/v1/completions", ["prompt": "a", "max_tokens": 2, "skip_special_tokens": true,
                                                                   "include_stop_str_in_output": false, "user": "x",
                                                                   "response_format": ["type": "text"]])
            #expect(accepted.status == 200, "\(accepted.body)")
        }
    }

    @Test("tokenizer endpoints in vLLM's shapes: special-token text maps to its id, ids decode back, behind the API key")
    func tokenizerEndpoints() async throws {
        let model = try Fixtures.calm()
        try await withServer(model, configuration: ServerConfiguration(apiKey: "sekrit")) { live in
            let key = [("Authorization", "Bearer sekrit")]
            #expect(try await live.get("/tokenizer_info").status == 401)
            #expect(try await live.post("/tokenize", ["prompt": "a"]).status == 401)
            let info = try await live.get("/tokenizer_info", headers: key).json
            let eos = try #require(info["eos_token"] as? String)
            #expect(info["model_max_length"] as? Int == model.contextLength)

            let text = "吾輩は猫である。"
            let tokenized = try await live.post("/tokenize", ["prompt": text + eos, "add_special_tokens": false], headers: key).json
            let ids = try #require(tokenized["tokens"] as? [Int])
            let eosID = try #require(model.tokenizer.specialTokens.eos)
            #expect(ids == model.tokenizer.encode(text, addSpecialTokens: false) + [eosID])
            #expect(tokenized["count"] as? Int == ids.count && tokenized["max_model_len"] as? Int == model.contextLength)

            let detokenized = try await live.post("/detokenize", ["tokens": ids], headers: key).json
            #expect(detokenized["prompt"] as? String == text + eos)
            let bad = try await live.post("/detokenize", ["tokens": [-1]], headers: key)
            #expect(bad.status == 400)
        }
    }
}
