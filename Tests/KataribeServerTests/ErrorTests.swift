import Foundation
import KataribeServer
import Testing

@Suite("Errors in OpenAI's shape: malformed requests, limits, API keys")
struct ErrorTests {
    @Test("malformed JSON is a 400 with {error: {message, type, param, code}}")
    func malformedJSON() async throws {
        try await withServer(try Fixtures.calm()) { live in
            let reply = try await live.post("/v1/completions", #"{"prompt": "こんにちは", "#)
            #expect(reply.status == 400)
            let error = try #require(reply.json["error"] as? [String: Any])
            #expect(error["type"] as? String == "invalid_request_error")
            #expect(error["message"] is String)
            #expect(error.keys.contains("param") && error.keys.contains("code"))

            let wrongType = try await live.post("/v1/completions", ["prompt": "a", "temperature": "hot"])
            #expect(wrongType.status == 400)
            #expect(wrongType.error("param") == "temperature")

            let missing = try await live.post("/v1/chat/completions", ["model": "x"])
            #expect(missing.status == 400)
            #expect(missing.error("param") == "messages")
        }
    }

    @Test("out-of-range fields name the field at fault")
    func invalidFields() async throws {
        try await withServer(try Fixtures.calm(), configuration: ServerConfiguration(maxTokens: 50, maxChoices: 4)) { live in
            for (field, value) in [("max_tokens", 0), ("max_tokens", 51), ("n", 5), ("temperature", 3), ("temperature", -0.5),
                                   ("logprobs", 6), ("top_p", 1.5), ("top_k", -2), ("repetition_penalty", 0),
                                   ("min_tokens", -1)] as [(String, Any)] {
                let reply = try await live.post("/v1/completions", ["prompt": "a", field: value])
                #expect(reply.status == 400, "\(field)=\(value)")
                #expect(reply.error("param") == field, "\(field)=\(value)")
            }
            // The words of the rules generate's flags and suite files use.
            let topP = try await live.post("/v1/completions", ["prompt": "a", "top_p": 1.5])
            #expect(topP.error("message") == "top_p must be between 0 and 1")
            // n greedy copies are answered without streaming (EvaluationEndpointTests), refused with it.
            let greedyN = try await live.post("/v1/completions", ["prompt": "a", "n": 2, "temperature": 0, "stream": true])
            #expect(greedyN.error("param") == "n")
            let batch = try await live.post("/v1/completions", ["prompt": ["a", "b"], "stream": true])
            #expect(batch.error("param") == "prompt")
            let penalty = try await live.post("/v1/completions", ["prompt": "a", "presence_penalty": 0.5])
            #expect(penalty.error("param") == "presence_penalty")
        }
    }

    @Test("a prompt that does not fit the context with max_tokens is a 400 context_length_exceeded")
    func contextLength() async throws {
        let model = try Fixtures.calm()
        try await withServer(model) { live in
            let long = String(repeating: "吾輩は猫である。", count: 40)
            let reply = try await live.post("/v1/completions", ["prompt": long, "max_tokens": 16])
            #expect(reply.status == 400)
            #expect(reply.error("code") == "context_length_exceeded")
            #expect(reply.error("message")?.contains("\(model.contextLength)") == true)

            // Without max_tokens a prompt that nearly fills the context gets the room that is left.
            let ids = Array(repeating: 704, count: model.contextLength - 3)
            let fits = try await live.post("/v1/completions", ["prompt": ids, "temperature": 0, "min_tokens": 3])
            #expect(fits.status == 200)
            #expect((fits.json["usage"] as? [String: Any])?["completion_tokens"] as? Int == 3)
        }
    }

    @Test("a body over --max-body-bytes is a 413")
    func oversizeBody() async throws {
        try await withServer(try Fixtures.calm(), configuration: ServerConfiguration(maxBodyBytes: 1000)) { live in
            let reply = try await live.post("/v1/completions", ["prompt": String(repeating: "あ", count: 2000)])
            #expect(reply.status == 413)
            #expect(reply.error("code") == "request_too_large")
            #expect(try await live.post("/v1/completions", ["prompt": "あ", "max_tokens": 1]).status == 200)
        }
    }

    @Test("with an API key, requests without it or with another get 401; with it they pass")
    func apiKey() async throws {
        try await withServer(try Fixtures.calm(), configuration: ServerConfiguration(apiKey: "sekrit")) { live in
            let missing = try await live.get("/v1/models")
            #expect(missing.status == 401)
            #expect(missing.error("code") == "invalid_api_key")
            #expect(try await live.get("/v1/models", headers: [("Authorization", "Bearer wrong")]).status == 401)
            #expect(try await live.post("/v1/completions", ["prompt": "a"]).status == 401)
            #expect(try await live.get("/v1/models", headers: [("Authorization", "Bearer sekrit")]).status == 200)
            #expect(try await live.get("/health").status == 200)
        }
    }

    @Test("with an API key, no spelling of a path gets past it: only /health is open (issue #14)")
    func apiKeyEverySpelling() async throws {
        try await withServer(try Fixtures.calm(), configuration: ServerConfiguration(apiKey: "sekrit")) { live in
            let body = #"{"prompt":"a","max_tokens":1}"#
            let chat = #"{"messages":[{"role":"user","content":"a"}],"max_tokens":1}"#
            // The router ignores empty segments, so these used to reach the endpoints with no key.
            let protected: [(String, String, String?)] = [
                ("GET", "//v1/models", nil), ("GET", "///v1/models", nil), ("GET", "/v1//models", nil),
                ("GET", "/v1/models/", nil), ("GET", "/./v1/models", nil), ("GET", "/%761/models", nil),
                ("GET", "/V1/models", nil), ("GET", "http://127.0.0.1/v1/models", nil),
                ("POST", "//v1/completions", body), ("POST", "//v1/chat/completions", chat), ("POST", "/v1/completions/", body),
                // Unknown routes too: a 404 would tell a stranger what is not there.
                ("GET", "/", nil), ("GET", "/v1/embeddings", nil), ("GET", "/nothing", nil), ("GET", "/v1/../health", nil),
                ("POST", "/health/../v1/completions", body),
            ]
            for (method, target, payload) in protected {
                let reply = try await RawConnection.exchange(port: live.port, rawRequest(method, target, body: payload))
                #expect(reply.status == 401, "\(method) \(target) without a key: \(reply.text)")
                #expect(reply.text.contains("invalid_api_key"), "\(method) \(target)")
                let wrong = try await RawConnection.exchange(
                    port: live.port, rawRequest(method, target, headers: [("Authorization", "Bearer sekrit2")], body: payload))
                #expect(wrong.status == 401, "\(method) \(target) with a wrong key")
            }
            // With the key the same spellings get their normal answers (tiny-calm has no chat format: 400).
            let key = [("Authorization", "Bearer sekrit")]
            for (method, target, payload, status) in [
                ("GET", "//v1/models", nil, 200), ("GET", "/v1/models/", nil, 200), ("POST", "//v1/completions", body, 200),
                ("POST", "//v1/chat/completions", chat, 400), ("GET", "/nothing", nil, 404),
            ] as [(String, String, String?, Int)] {
                let reply = try await RawConnection.exchange(port: live.port, rawRequest(method, target, headers: key, body: payload))
                #expect(reply.status == status, "\(method) \(target) with the key: \(reply.text)")
            }
            for target in ["/health", "//health", "/health/"] {
                let reply = try await RawConnection.exchange(port: live.port, rawRequest("GET", target))
                #expect(reply.status == 200, "GET \(target) without a key: \(reply.text)")
            }
        }
    }

    @Test("unknown endpoints are 404 in the same error shape")
    func unknownEndpoint() async throws {
        try await withServer(try Fixtures.calm()) { live in
            let reply = try await live.get("/v1/embeddings")
            #expect(reply.status == 404)
            #expect(reply.error("type") == "invalid_request_error")
        }
    }
}
