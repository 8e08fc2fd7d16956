import Foundation
import KataribeServer
import Testing

/// Issue #14: slow, idle and surplus connections must not hold the server, and stopping it must not
/// wait for them. Timeouts are short here (1–2 s) and every bound generous, for a loaded 2-core machine.
@Suite("Slow and idle connections, the connection bound, graceful shutdown")
struct ConnectionTests {
    /// Long timeouts everywhere but where a test says otherwise, so only the one under test can act.
    static func configuration(idle: Double = 60, header: Double = 60, body: Double = 60) -> ServerConfiguration {
        var configuration = ServerConfiguration()
        configuration.idleTimeout = .seconds(idle)
        configuration.headerTimeout = .seconds(header)
        configuration.bodyTimeout = .seconds(body)
        return configuration
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// Sends `byte` every 100 ms until the server closes the connection (or `limit` passes); the time
    /// from `start` to the close, and how many bytes went out meanwhile.
    /// Sends `byte` every 100 ms until the server closes the connection. Returns the time until
    /// then, the bytes sent and the longest pause between two of them: a deadline that progress
    /// extended could only have fired in a pause at least as long as the timeout.
    static func trickle(_ byte: String, on connection: RawConnection, from start: ContinuousClock.Instant,
                        limit: Duration = .seconds(15)) async throws -> (elapsed: Double, sent: Int, longestPause: Double) {
        var sent = 0
        var last = ContinuousClock.now, longestPause = 0.0
        while ContinuousClock.now - start < limit {
            try await Task.sleep(for: .milliseconds(100))
            connection.poll()
            if connection.isClosedByPeer || !connection.send(byte) { break }
            let now = ContinuousClock.now
            longestPause = max(longestPause, seconds(now - last))
            last = now
            sent += 1
        }
        connection.poll()
        return (seconds(ContinuousClock.now - start), sent, longestPause)
    }

    @Test("a request head that trickles in is closed at the header timeout, though bytes keep coming")
    func slowHead() async throws {
        try await withServer(try Fixtures.calm(), configuration: Self.configuration(header: 2)) { live in
            let connection = try RawConnection(port: live.port)
            let start = ContinuousClock.now
            #expect(connection.send("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "))
            let (elapsed, sent, longestPause) = try await Self.trickle("a", on: connection, from: start)
            #expect(connection.isClosedByPeer, "still open after \(elapsed) s")
            #expect(elapsed >= 1.9 && elapsed < 12, "closed after \(elapsed) s")
            #expect(sent >= 2 && longestPause < 2, "\(sent) bytes, longest pause \(longestPause) s: the timer was not tested against progress")
            #expect(connection.status == nil)  // closed, not answered
        }
    }

    @Test("a body that trickles in is closed at the body timeout, though bytes keep coming")
    func slowBody() async throws {
        try await withServer(try Fixtures.calm(), configuration: Self.configuration(body: 2)) { live in
            let connection = try RawConnection(port: live.port)
            let start = ContinuousClock.now
            #expect(connection.send("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                                    + "Content-Length: 1000\r\n\r\n{\"prompt\": \""))
            let (elapsed, sent, longestPause) = try await Self.trickle("a", on: connection, from: start)
            #expect(connection.isClosedByPeer, "still open after \(elapsed) s")
            #expect(elapsed >= 1.9 && elapsed < 12, "closed after \(elapsed) s")
            #expect(sent >= 2 && longestPause < 2, "\(sent) bytes, longest pause \(longestPause) s: the timer was not tested against progress")
        }
    }

    @Test("a connection that sends nothing is closed after the idle timeout, counted afresh after each response")
    func idleKeepAlive() async throws {
        try await withServer(try Fixtures.calm(), configuration: Self.configuration(idle: 2)) { live in
            // Never a byte.
            let silent = try RawConnection(port: live.port)
            let opened = ContinuousClock.now

            // Keep-alive: two requests 1 s apart (under the timeout), then silence.
            let reused = try RawConnection(port: live.port)
            let request = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            let answered = { (count: Int) in { (text: String) in text.components(separatedBy: #""status":"ok""#).count - 1 == count } }
            #expect(reused.send(request))
            #expect(await reused.waitForData(seconds: 10, until: answered(1)))
            try await Task.sleep(for: .seconds(1))
            #expect(reused.send(request))
            #expect(await reused.waitForData(seconds: 10, until: answered(2)), "the connection did not survive 1 s: \(reused.text)")
            let lastAnswer = ContinuousClock.now

            #expect(await silent.waitUntilClosed(seconds: 15))
            let silentFor = Self.seconds(ContinuousClock.now - opened)
            #expect(silentFor >= 1.8 && silentFor < 12, "silent connection closed after \(silentFor) s")

            #expect(await reused.waitUntilClosed(seconds: 15))
            let idleFor = Self.seconds(ContinuousClock.now - lastAnswer)
            #expect(idleFor >= 1.5 && idleFor < 12, "keep-alive connection closed \(idleFor) s after its last answer")
            #expect(reused.status == 200)
        }
    }

    @Test("no timeout cuts a response that takes longer than all of them to generate")
    func slowAnswerIsNotIdle() async throws {
        var configuration = Self.configuration(idle: 0.5, header: 0.5, body: 0.5)
        configuration.tokenPacing = .milliseconds(200)  // 10 tokens: 2 s without a byte either way
        try await withServer(try Fixtures.calm(), configuration: configuration) { live in
            let reply = try await live.post("/v1/completions", ["prompt": "今日は", "max_tokens": 10, "min_tokens": 10, "temperature": 0])
            #expect(reply.status == 200)
            #expect((reply.json["usage"] as? [String: Any])?["completion_tokens"] as? Int == 10)
            let streamed = try await live.post("/v1/completions", ["prompt": "今日は", "max_tokens": 10, "min_tokens": 10,
                                                                   "temperature": 0, "stream": true])
            #expect(streamed.endsWithDone)
        }
    }

    @Test("past --max-connections new connections wait, not fail, and are served once idle ones time out")
    func connectionBound() async throws {
        var configuration = Self.configuration(idle: 1)
        configuration.maxConnections = 8
        try await withServer(try Fixtures.calm(), configuration: configuration) { live in
            let idle = try (0..<8).map { _ in try RawConnection(port: live.port) }
            #expect(await eventually(seconds: 10) { live.server.openConnections == 8 })

            let answered = Flag()
            let health = Task {
                defer { answered.set() }
                return try await live.get("/health")
            }
            var most = 0
            let start = ContinuousClock.now
            while !answered.isSet, ContinuousClock.now - start < .seconds(20) {
                most = max(most, live.server.openConnections)
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(answered.isSet, "/health was not answered")
            let reply = try await health.value
            #expect(reply.status == 200)
            #expect(most <= 8, "\(most) connections were open at once")
            for connection in idle {
                #expect(await connection.waitUntilClosed(seconds: 10))
            }
        }
    }

    @Test("graceful shutdown closes stalled connections at once and lets a generation in progress finish")
    func gracefulShutdown() async throws {
        var configuration = Self.configuration()  // no timeout can rescue the stalled connections
        configuration.shutdownTimeout = .seconds(20)  // far beyond the generation: it must finish, not be cut
        configuration.tokenPacing = .milliseconds(200)  // 20 tokens: 4 s
        try await withStoppableServer(try Fixtures.calm(), configuration: configuration) { live, run in
            let generation = Task {
                try await live.post("/v1/completions", ["prompt": "今日は", "max_tokens": 20, "min_tokens": 20, "temperature": 0])
            }
            #expect(await eventually(seconds: 20) { live.server.scheduler.statistics.running == 1 })

            let slowBody = try RawConnection(port: live.port)
            slowBody.send("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n{\"pro")
            let halfHead = try RawConnection(port: live.port)
            halfHead.send("GET /v1/models HTTP/1.1\r\nHost: 12")
            let idle = try RawConnection(port: live.port)
            #expect(await eventually(seconds: 10) { live.server.openConnections >= 4 })

            #expect(live.server.scheduler.statistics.running == 1)
            await live.server.shutdownGracefully()
            for connection in [slowBody, halfHead, idle] {
                #expect(await connection.waitUntilClosed(seconds: 3))
            }
            // Closed while the answer was still being generated, not after it.
            #expect(live.server.scheduler.statistics.running == 1)
            #expect(await run.waitForReturn(seconds: 20), "run did not return")
            if run.hasReturned, case .failure(let error) = await run.task.result { Issue.record("run threw \(error)") }

            let reply = try await generation.value
            #expect(reply.status == 200)
            #expect((reply.json["usage"] as? [String: Any])?["completion_tokens"] as? Int == 20)
            #expect(live.server.scheduler.statistics.completed == 1)
        }
    }

    @Test("graceful shutdown cuts off a response still going after the shutdown timeout")
    func shutdownTimeout() async throws {
        var configuration = Self.configuration()
        configuration.tokenPacing = .milliseconds(200)  // 120 tokens: 24 s
        configuration.shutdownTimeout = .seconds(1)
        try await withStoppableServer(try Fixtures.calm(), configuration: configuration) { live, run in
            let busy = HeldStream(live, body: #"{"prompt":"今日は","max_tokens":120,"min_tokens":120,"stream":true}"#)
            #expect(await busy.started())
            let start = ContinuousClock.now
            await live.server.shutdownGracefully()
            #expect(await run.waitForReturn(seconds: 12), "run did not return")
            let took = Self.seconds(ContinuousClock.now - start)
            if run.hasReturned, case .failure(let error) = await run.task.result { Issue.record("run threw \(error)") }
            #expect(took >= 0.9 && took < 12, "shutdown took \(took) s")
            #expect(await eventually(seconds: 10) { live.server.scheduler.statistics.running == 0 })
            #expect(live.server.scheduler.statistics.completed == 0)
            await busy.drop()
        }
    }
}
