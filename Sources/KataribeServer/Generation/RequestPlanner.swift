import KataribeApp
import KataribeGeneration

/// Per-request limits the server enforces before anything runs.
struct RequestLimits: Sendable {
    /// The largest `max_tokens` accepted (nil: only the context length limits it).
    var maxTokens: Int?
    /// The largest `n`.
    var maxChoices: Int
}

/// Turns an OpenAI request into a `PreparedGeneration` through `TextGenerator.prepare`, so settings
/// resolve exactly as in `kataribe generate`: request fields over the model's preset over its
/// generation_config.json, transformers' defaults beneath. Every refusal is a 400 naming the field.
struct RequestPlanner: Sendable {
    let generator: TextGenerator
    let limits: RequestLimits
    let tokenPacing: Duration?

    /// `promptParam` names the request field holding the prompt (`prompt` or `messages`) in errors.
    func prepare(_ input: PromptInput, sampling: SamplingFields, format: PromptFormat?,
                 promptParam: String) throws(APIError) -> PreparedGeneration {
        var parameters = try overrides(sampling)
        var options = GenerationOptions(format: format, contextOverflow: .error, tokenPacing: tokenPacing)
        // vLLM's default: special tokens (rinna's `</s>`) are not part of the text, whatever the
        // preset says for transformers parity; `skip_special_tokens: false` keeps them.
        options.skipSpecialTokens = sampling.skipSpecialTokens ?? true
        do {
            return try generator.prepare(input, parameters: parameters, options: options)
        } catch .promptTooLong(let promptTokens, _, let context) where sampling.maxTokens == nil && promptTokens < context {
            // Without an explicit max_tokens, a long prompt gets whatever room the context has left.
            parameters.maxNewTokens = context - promptTokens
            do { return try generator.prepare(input, parameters: parameters, options: options) } catch {
                throw Self.describe(error, promptParam: promptParam)
            }
        } catch {
            throw Self.describe(error, promptParam: promptParam)
        }
    }

    /// The request's settings as generation parameters; unset fields fall through to the model's.
    func overrides(_ s: SamplingFields) throws(APIError) -> GenerationParameters {
        try validate(s)
        var p = GenerationParameters()
        if let temperature = s.temperature {
            // OpenAI's temperature 0 means "always the most likely token"; like vLLM, so does any
            // temperature too small to divide logits by (see `greedyTemperature`).
            if temperature < ResolvedGenerationParameters.greedyTemperature {
                p.doSample = false
            } else {
                p.doSample = true
                p.temperature = temperature
            }
        }
        p.topP = s.topP
        p.topK = s.topK.map { $0 < 0 ? 0 : $0 }  // vLLM's -1 (and 0) disable top-k
        p.repetitionPenalty = s.repetitionPenalty
        p.minNewTokens = s.minTokens
        p.numReturnSequences = s.n
        p.seed = s.seed
        p.stopStrings = s.stop
        // OpenAI never returns the stop string; vLLM's include_stop_str_in_output keeps it.
        p.stopStringHandling = s.includeStopStringInOutput == true ? .keep : .strip
        let modelDefault = generator.model.parameters().maxNewTokens ?? 16
        p.maxNewTokens = s.maxTokens ?? limits.maxTokens.map { min($0, modelDefault) } ?? modelDefault
        return p
    }

    private func validate(_ s: SamplingFields) throws(APIError) {
        if let maxTokens = s.maxTokens {
            guard maxTokens >= 1 else { throw .invalidRequest("max_tokens must be at least 1", param: "max_tokens") }
            if let limit = limits.maxTokens, maxTokens > limit {
                throw .invalidRequest("max_tokens is \(maxTokens) but this server allows at most \(limit)", param: "max_tokens")
            }
        }
        if let n = s.n, !(1...limits.maxChoices).contains(n) {
            throw .invalidRequest("n must be between 1 and \(limits.maxChoices)", param: "n")
        }
        if let t = s.temperature, !(0...2).contains(t) {
            throw .invalidRequest("temperature must be between 0 and 2", param: "temperature")
        }
        // Where OpenAI's fields mean transformers' settings, the shared rules decide (as for
        // generate's flags and suite files); temperature (OpenAI's 0...2) and top_k (vLLM's -1)
        // keep the API's own ranges.
        typealias R = GenerationParameterRules
        if let p = s.topP, !R.topP.allows(p) {
            throw .invalidRequest("top_p \(R.topP.requirement)", param: "top_p")
        }
        if let k = s.topK, k < -1 {
            throw .invalidRequest("top_k must be -1 or 0 (disabled) or a positive integer", param: "top_k")
        }
        if let r = s.repetitionPenalty, !R.repetitionPenalty.allows(r) {
            throw .invalidRequest("repetition_penalty \(R.repetitionPenalty.requirement)", param: "repetition_penalty")
        }
        if let m = s.minTokens, !R.minNewTokens.allows(m) {
            throw .invalidRequest("min_tokens \(R.minNewTokens.requirement)", param: "min_tokens")
        }
        if let m = s.minTokens, let maxTokens = s.maxTokens, m > maxTokens {
            throw .invalidRequest("min_tokens (\(m)) must not exceed max_tokens (\(maxTokens))", param: "min_tokens")
        }
        if let stop = s.stop {
            if stop.count > 4 { throw .invalidRequest("at most 4 stop sequences are allowed", param: "stop") }
            if stop.contains(where: \.isEmpty) { throw .invalidRequest("a stop sequence must not be empty", param: "stop") }
        }
        if let value = s.presencePenalty, value != 0 {
            throw .invalidRequest("presence_penalty is not supported; use repetition_penalty", param: "presence_penalty")
        }
        if let value = s.frequencyPenalty, value != 0 {
            throw .invalidRequest("frequency_penalty is not supported; use repetition_penalty", param: "frequency_penalty")
        }
        if s.hasLogitBias { throw .invalidRequest("logit_bias is not supported", param: "logit_bias") }
        if s.hasStreamOptions && !s.stream {
            throw .invalidRequest("stream_options is only allowed with stream: true", param: "stream_options")
        }
        if let format = s.responseFormat, format != "text" {
            throw .invalidRequest("response_format '\(format.prefix(32))' is not supported (only text)", param: "response_format")
        }
    }

    static func describe(_ error: TextGenerationError, promptParam: String) -> APIError {
        switch error {
        case let .promptTooLong(prompt, maxNew, context):
            return .invalidRequest(
                "this model's context length is \(context) tokens, but the prompt has \(prompt) tokens and max_tokens is \(maxNew) "
                    + "(together \(prompt + maxNew)); shorten the prompt or lower max_tokens",
                param: promptParam, code: "context_length_exceeded")
        case .emptyPrompt:
            return .invalidRequest("the prompt is empty (it encodes to no tokens)", param: promptParam)
        case .parameters(.invalid(let name, let value, let reason)):
            let param = openAIName[name] ?? name
            return .invalidRequest("invalid \(param)=\(value): \(reason)", param: param)
        case .parameters(let other):
            return .invalidRequest(other.description)
        case .context(let error):
            return .invalidRequest(error.description, param: promptParam, code: "context_length_exceeded")
        case let .chatNotSupported(model, format):
            return .invalidRequest(
                "\(model) uses the \(format.name) prompt format, which has no chat turns; use /v1/completions, "
                    + "or start the server with --format rinna-chat", param: "messages", code: "chat_not_supported")
        case .conversationMustEndWithUser:
            return .invalidRequest("the last message must be a user message", param: "messages")
        case let .tokenOutOfRange(token, size):
            return .invalidRequest("token id \(token) is outside the vocabulary (0..<\(size))", param: promptParam)
        case .promptFormat(let formatError):
            // The model's chat template refused these messages (roles that do not alternate, a role it
            // does not know): the request's fault, as with any other template-side validation.
            return .invalidRequest(formatError.description, param: promptParam, code: "invalid_messages")
        case .model, .sampling:
            return .server(error.description)
        }
    }

    /// transformers' parameter names → the OpenAI request fields they come from.
    private static let openAIName = [
        "max_new_tokens": "max_tokens", "num_return_sequences": "n", "stop_strings": "stop", "min_new_tokens": "min_tokens",
    ]
}
