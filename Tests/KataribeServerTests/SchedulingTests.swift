import Foundation
import KataribeServer
import Testing

@Suite("Sharing the model: the scheduler and its bounded queue")
struct SchedulingTests {
    @Test("one runs, maxQueue wait, the next is refused; turns pass in arrival order")
    func boundedFIFO() async throws {
        let scheduler = GenerationScheduler(maxQueue: 2)
        let first = try #require(scheduler.reserve())
        let second = try #require(scheduler.reserve())
        let third = try #require(scheduler.reserve())
        #expect(scheduler.reserve() == nil)
        #expect(scheduler.statistics.running == 1 && scheduler.statistics.queued == 2 && scheduler.statistics.refused == 1)

        try await first.waitForTurn()
        let order = OrderLog()
        let waiting = Task {
            try await third.waitForTurn()
            await order.append(3)
            third.release(.completed)
        }
        let waitingSecond = Task {
            try await second.waitForTurn()
            await order.append(2)
            second.release(.completed)
        }
        first.release(.completed)
        try await waiting.value
        try await waitingSecond.value
        #expect(await order.values == [2, 3])
        #expect(scheduler.statistics.completed == 3 && scheduler.statistics.running == 0)
    }

    @Test("a request cancelled while waiting gives up its place")
    func cancelledWhileWaiting() async throws {
        let scheduler = GenerationScheduler(maxQueue: 1)
        let running = try #require(scheduler.reserve())
        let waiter = try #require(scheduler.reserve())
        let task = Task { try await waiter.waitForTurn() }
        #expect(await eventually { scheduler.statistics.queued == 1 })
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(scheduler.statistics.queued == 0)
        let next = try #require(scheduler.reserve())
        running.release()
        try await next.waitForTurn()
        #expect(scheduler.statistics.running == 1)
    }

    @Test("a dropped reservation frees its turn")
    func droppedReservation() async throws {
        let scheduler = GenerationScheduler(maxQueue: 0)
        do {
            let held = scheduler.reserve()
            #expect(held != nil)
            #expect(scheduler.reserve() == nil)
        }
        #expect(scheduler.reserve() != nil)
    }

    @Test("a full queue answers 429 over HTTP while the model is busy")
    func queueFullOverHTTP() async throws {
        let configuration = ServerConfiguration(maxQueue: 1, tokenPacing: .milliseconds(200))
        try await withServer(try Fixtures.calm(), configuration: configuration) { live in
            // Busy for up to 24 s, until the test walks away from it.
            let busy = HeldStream(live, body: #"{"prompt":"今日は","max_tokens":120,"min_tokens":120,"stream":true}"#)
            #expect(await busy.started())
            let queued = Task { try await live.post("/v1/completions", ["prompt": "今日は", "max_tokens": 2]) }
            #expect(await eventually { live.server.scheduler.statistics.queued == 1 })
            let refused = try await live.post("/v1/completions", ["prompt": "今日は", "max_tokens": 2])
            #expect(refused.status == 429)
            #expect(refused.error("type") == "rate_limit_error")
            #expect(live.server.scheduler.statistics.refused == 1)
            await busy.drop()
            #expect(try await queued.value.status == 200)
        }
    }
}

private actor OrderLog {
    var values: [Int] = []
    func append(_ value: Int) { values.append(value) }
}
