import AsyncHTTPClient
import Foundation
import KataribeApp
import KataribeGeneration
import KataribeServer
import NIOCore
import Testing

@Suite("Server-sent event streaming")
struct StreamingTests {
    @Test("streamed completion chunks concatenate to the non-streamed text for the same seed, then [DONE]")
    func completionStream() async throws {
        try await withServer(try Fixtures.calm()) { live in
            let request: [String: Any] = ["prompt": "吾輩は猫である。", "max_tokens": 16, "temperature": 0.9, "seed": 11]
            let whole = try #require(try await live.post("/v1/completions", request).json.choices.first?["text"] as? String)
            var streaming = request
            streaming["stream"] = true
            streaming["stream_options"] = ["include_usage": true]
            let reply = try await live.post("/v1/completions", streaming)
            #expect(reply.status == 200)
            #expect(reply.headers["content-type"]?.hasPrefix("text/event-stream") == true)
            #expect(reply.endsWithDone)
            #expect(reply.streamedTexts[0] == whole)
            let events = reply.events
            #expect(events.count > 2)
            #expect(events.allSatisfy { $0["object"] as? String == "text_completion" })
            #expect(Set(events.compactMap { $0["id"] as? String }).count == 1)
            // The last choice chunk carries the finish reason; then the usage chunk with no choices.
            #expect(events.dropLast().last?.choices.first?["finish_reason"] as? String != nil)
            #expect(events.last?.choices.isEmpty == true)
            #expect((events.last?["usage"] as? [String: Any])?["completion_tokens"] as? Int != nil)
        }
    }

    @Test("streamed chat opens with the assistant role and its deltas concatenate to the reply")
    func chatStream() async throws {
        try await withServer(try Fixtures.rinnaChat()) { live in
            let request: [String: Any] = ["messages": [["role": "user", "content": "日本の首都は？"]], "max_tokens": 24,
                                          "temperature": 0.9, "seed": 3]
            let whole = try #require((try await live.post("/v1/chat/completions", request).json.choices.first?["message"]
                                      as? [String: Any])?["content"] as? String)
            var streaming = request
            streaming["stream"] = true
            let reply = try await live.post("/v1/chat/completions", streaming)
            #expect(reply.endsWithDone)
            let events = reply.events
            #expect(events.allSatisfy { $0["object"] as? String == "chat.completion.chunk" })
            let firstDelta = events.first?.choices.first?["delta"] as? [String: Any]
            #expect(firstDelta?["role"] as? String == "assistant")
            #expect(reply.streamedTexts[0] == whole)
            #expect(events.last?.choices.first?["finish_reason"] as? String != nil)
        }
    }

    @Test("64 concurrent streaming clients each get exactly the reply for their own seed")
    func concurrentClients() async throws {
        let model = try Fixtures.calm()
        let seeds = Array(1...64)
        var expected: [Int: String] = [:]
        for seed in seeds {
            expected[seed] = try await expectedTexts(
                model, .text("今日は"), GenerationParameters(doSample: true, temperature: 1.0, maxNewTokens: 8, seed: UInt64(seed)),
                format: .plain)[0]
        }
        try await withServer(model, configuration: ServerConfiguration(maxQueue: 64)) { live in
            let replies = try await withThrowingTaskGroup(of: (Int, LiveServer.Reply).self) { group in
                for seed in seeds {
                    group.addTask {
                        (seed, try await live.post("/v1/completions", ["prompt": "今日は", "max_tokens": 8, "temperature": 1.0,
                                                                      "seed": seed, "stream": true]))
                    }
                }
                var out: [Int: LiveServer.Reply] = [:]
                for try await (seed, reply) in group { out[seed] = reply }
                return out
            }
            #expect(replies.count == 64)
            for seed in seeds {
                let reply = try #require(replies[seed])
                #expect(reply.status == 200)
                #expect(reply.endsWithDone)
                #expect(reply.streamedTexts[0] == expected[seed], "seed \(seed)")
                #expect(reply.events.compactMap { $0["seed"] as? Int }.allSatisfy { $0 == seed })
            }
            let statistics = live.server.scheduler.statistics
            #expect(statistics.completed == 64)
            #expect(statistics.refused == 0)
            #expect(statistics.running == 0 && statistics.queued == 0)
        }
    }

    @Test("a client that disconnects mid-stream cancels its generation and frees the model")
    func disconnectCancels() async throws {
        // Paced so that the generation would last 24 s if the disconnect went unnoticed.
        let configuration = ServerConfiguration(tokenPacing: .milliseconds(200))
        try await withServer(try Fixtures.calm(), configuration: configuration) { live in
            let stream = HeldStream(live, body: #"{"prompt":"今日は","max_tokens":120,"min_tokens":120,"stream":true}"#)
            #expect(await stream.started())
            await stream.drop()
            #expect(await eventually { live.server.scheduler.statistics.cancelled == 1 })
            #expect(live.server.scheduler.statistics.running == 0)
            #expect(live.server.scheduler.statistics.completed == 0)
        }
    }
}
