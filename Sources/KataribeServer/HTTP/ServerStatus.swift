import Hummingbird
import KataribeApp
import NIOCore

/// What `GET /health` and `GET /metrics` report: the batch's slots and the queue in front of it.
struct ServerStatus: Sendable {
    let scheduler: GenerationScheduler
    let engine: GenerationEngine
    /// Sequences one forward step can advance (`--parallel`).
    let slots: Int

    struct Health: Encodable {
        var status = "ok"
        var slotsTotal: Int
        /// Sequences in the running batch (a request with `n` choices uses up to n).
        var slotsInUse: Int
        /// Requests generating now, and waiting for their turn (at most `max_queue`).
        var requestsRunning: Int
        var requestsQueued: Int
        var maxQueue: Int

        enum CodingKeys: String, CodingKey {
            case status
            case slotsTotal = "slots_total", slotsInUse = "slots_in_use", requestsRunning = "requests_running"
            case requestsQueued = "requests_queued", maxQueue = "max_queue"
        }
    }

    func health() -> Response {
        let queue = scheduler.statistics, load = engine.load
        return Response.json(Health(slotsTotal: slots, slotsInUse: load.sequences, requestsRunning: queue.running,
                                    requestsQueued: queue.queued, maxQueue: scheduler.maxQueue))
    }

    /// The same figures and the request counters in Prometheus' text format.
    func metrics() -> Response {
        let queue = scheduler.statistics, load = engine.load
        let lines: [(name: String, type: String, help: String, value: Int)] = [
            ("kataribe_slots_total", "gauge", "Sequences one forward step can advance (--parallel).", slots),
            ("kataribe_slots_in_use", "gauge", "Sequences in the running batch.", load.sequences),
            ("kataribe_requests_running", "gauge", "Requests generating now.", queue.running),
            ("kataribe_requests_queued", "gauge", "Requests waiting for their turn.", queue.queued),
            ("kataribe_requests_completed_total", "counter", "Requests answered in full.", queue.completed),
            ("kataribe_requests_cancelled_total", "counter", "Requests whose client went away.", queue.cancelled),
            ("kataribe_requests_failed_total", "counter", "Requests that failed while generating.", queue.failed),
            ("kataribe_requests_refused_total", "counter", "Requests answered 429 because the queue was full.", queue.refused),
        ]
        let text = lines.map { "# HELP \($0.name) \($0.help)\n# TYPE \($0.name) \($0.type)\n\($0.name) \($0.value)\n" }.joined()
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
