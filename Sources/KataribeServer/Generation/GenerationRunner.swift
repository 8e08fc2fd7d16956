import Foundation
import KataribeApp
import KataribeGeneration

/// One finished choice of a request.
struct ChoiceResult: Sendable {
    var index: Int
    /// The reply as returned (stop strings cut off, the prompt format's conventions applied).
    var text: String
    /// OpenAI's `finish_reason`: "stop" (eos or a stop string) or "length".
    var finishReason: String
    var tokenCount: Int
    var logprobs: [TokenLogprob]?
}

/// What a request produces while it runs.
enum RunEvent: Sendable {
    /// Text of choice `choice`: whole characters only, never part of a stop string. A choice's
    /// chunks concatenate to its final `text`.
    case text(String, choice: Int)
    case choiceFinished(ChoiceResult)
}

struct RunResult: Sendable {
    var choices: [ChoiceResult]
    var usage: Usage
    var seed: UInt64
}

/// Runs prepared requests with `TextGenerator` (the same loop, detokenizer and reply filter as
/// `kataribe generate`) when the scheduler gives them their turn.
struct GenerationRunner: Sendable {
    let generator: TextGenerator

    /// Waits for the request's turn, runs it, and hands each event to `onEvent`. Cancelling the
    /// calling task (the client went away) stops the generation after its current token; an error
    /// thrown by `onEvent` (a failed write) stops it too.
    func run(_ prepared: PreparedGeneration, reservation: Reservation, logprobs: Int?,
             onEvent: (RunEvent) async throws -> Void) async throws -> RunResult {
        do { try await reservation.waitForTurn() } catch {
            reservation.release(.cancelled)
            throw error
        }
        var outcome = Reservation.Outcome.failed
        defer { reservation.release(outcome) }
        var choices: [ChoiceResult] = []
        var cancelled = false
        do {
            for try await event in generator.stream(prepared) {
                switch event {
                case .text(let chunk, let sample):
                    try await onEvent(.text(chunk, choice: sample))
                case .sampleFinished(let sample):
                    if sample.stopReason == .cancelled { cancelled = true }
                    var scored: [TokenLogprob]?
                    if let logprobs, !cancelled {
                        scored = try await Self.score(generator.model, prompt: prepared.promptTokens, sample: sample, top: logprobs)
                    }
                    let choice = ChoiceResult(
                        index: sample.index, text: sample.text,
                        finishReason: sample.stopReason == .length ? "length" : "stop",
                        tokenCount: sample.tokens.count, logprobs: scored)
                    choices.append(choice)
                    try await onEvent(.choiceFinished(choice))
                case .finished:
                    break
                }
            }
        } catch let error as TextGenerationError {
            throw RequestPlanner.describe(error, promptParam: "prompt")
        } catch let error as APIError {
            throw error
        } catch {
            outcome = .cancelled  // the task was cancelled or a write failed: the client is gone
            throw error
        }
        if cancelled || Task.isCancelled {
            outcome = .cancelled
            throw CancellationError()
        }
        outcome = .completed
        let usage = Usage(promptTokens: prepared.promptTokens.count, completionTokens: choices.reduce(0) { $0 + $1.tokenCount })
        RequestTokens.current?.add(usage)
        return RunResult(choices: choices, usage: usage, seed: prepared.seed)
    }

    /// Scoring is a forward pass; it runs on a thread of its own, as generation does, so it never
    /// blocks the threads that serve HTTP.
    private static func score(_ model: LoadedModel, prompt: [Int], sample: GeneratedSample, top: Int) async throws -> [TokenLogprob] {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[TokenLogprob], any Error>) in
            let thread = Thread {
                do {
                    continuation.resume(returning: try LogprobScorer.score(model: model, prompt: prompt,
                                                                          generated: sample.tokens, top: top))
                } catch {
                    continuation.resume(throwing: APIError.server("scoring the reply failed: \(error)"))
                }
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
    }
}
