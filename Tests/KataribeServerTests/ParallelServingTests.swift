import Foundation
import KataribeApp
import KataribeGeneration
import KataribeServer
import Testing

/// `serve --parallel N`: requests are batched into shared forward steps, and nothing a client sees
/// depends on that.
@Suite("Serving several requests at once (continuous batching)")
struct ParallelServingTests {
    @Test("with --parallel 4, concurrent clients (streaming or not, n = 1 or 2) get the replies they get one at a time")
    func repliesDoNotDependOnTheBatch() async throws {
        let model = try Fixtures.calm()
        let requests: [(prompt: String, seed: Int, n: Int, stream: Bool)] = [
            ("今日は", 1, 1, true), ("吾輩は猫である。", 2, 2, false), ("今日は", 3, 1, false), ("東京の", 4, 2, true),
            ("吾輩は猫である。", 5, 1, true), ("むかしむかし", 6, 1, false), ("今日は", 7, 2, true), ("東京の", 8, 1, true),
        ]
        var expected: [Int: [String]] = [:]
        for request in requests {
            expected[request.seed] = try await expectedTexts(
                model, .text(request.prompt),
                GenerationParameters(doSample: true, temperature: 1.0, maxNewTokens: 12, numReturnSequences: request.n,
                                     seed: UInt64(request.seed)),
                format: .plain)
        }
        try await withServer(model, configuration: ServerConfiguration(maxQueue: 16, parallel: 4)) { live in
            let replies = try await withThrowingTaskGroup(of: (Int, LiveServer.Reply).self) { group in
                for request in requests {
                    group.addTask {
                        (request.seed, try await live.post("/v1/completions", [
                            "prompt": request.prompt, "max_tokens": 12, "temperature": 1.0, "seed": request.seed, "n": request.n,
                            "stream": request.stream,
                        ]))
                    }
                }
                var out: [Int: LiveServer.Reply] = [:]
                for try await (seed, reply) in group { out[seed] = reply }
                return out
            }
            for request in requests {
                let reply = try #require(replies[request.seed])
                #expect(reply.status == 200)
                let texts = request.stream
                    ? (0..<request.n).map { reply.streamedTexts[$0] ?? "" }
                    : reply.json.choices.sorted { ($0["index"] as? Int ?? 0) < ($1["index"] as? Int ?? 0) }.map { $0["text"] as? String ?? "" }
                #expect(texts == expected[request.seed], "seed \(request.seed)")
            }
            let statistics = live.server.scheduler.statistics
            #expect(statistics.completed == requests.count && statistics.refused == 0)
        }
    }

    @Test("/health and /metrics show the slots in use and the queue; past the queue bound requests get 429")
    func slotsAndQueue() async throws {
        let configuration = ServerConfiguration(maxQueue: 1, parallel: 2, tokenPacing: .milliseconds(200))
        try await withServer(try Fixtures.calm(), configuration: configuration) { live in
            let idle = try await live.get("/health").json
            #expect(idle["status"] as? String == "ok")
            #expect(idle["slots_total"] as? Int == 2 && idle["slots_in_use"] as? Int == 0 && idle["requests_queued"] as? Int == 0)

            // Two requests fill the batch (each would run 24 s), a third waits, a fourth is refused.
            let body = #"{"prompt":"今日は","max_tokens":120,"min_tokens":120,"stream":true}"#
            let first = HeldStream(live, body: body), second = HeldStream(live, body: body)
            #expect(await first.started())
            #expect(await second.started())
            let queued = Task { try await live.post("/v1/completions", ["prompt": "今日は", "max_tokens": 2]) }
            #expect(await eventually { live.server.scheduler.statistics.queued == 1 })
            let busy = try await live.get("/health").json
            #expect(busy["slots_in_use"] as? Int == 2)
            #expect(busy["requests_running"] as? Int == 2 && busy["requests_queued"] as? Int == 1)
            let refused = try await live.post("/v1/completions", ["prompt": "今日は", "max_tokens": 2])
            #expect(refused.status == 429)

            let metrics = try await live.get("/metrics")
            #expect(metrics.status == 200)
            #expect(metrics.headers["content-type"]?.hasPrefix("text/plain") == true)
            for line in ["kataribe_slots_total 2", "kataribe_slots_in_use 2", "kataribe_requests_running 2",
                         "kataribe_requests_queued 1", "kataribe_requests_refused_total 1", "# TYPE kataribe_slots_in_use gauge"] {
                #expect(metrics.body.contains(line + "\n"), "\(line)")
            }

            // One client leaves: its slot goes to the waiting request, which finishes while the other still runs.
            await first.drop()
            #expect(try await queued.value.status == 200)
            #expect(await eventually { live.server.scheduler.statistics.cancelled == 1 })
            #expect(live.server.scheduler.statistics.running == 1)
            await second.drop()
            #expect(await eventually { live.server.engine.load.sequences == 0 && live.server.scheduler.statistics.running == 0 })
        }
    }
}
