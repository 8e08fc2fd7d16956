import Foundation
import KataribeSupport
import KataribeApp
import KataribeGeneration
import KataribeTensor
import KataribeTokenizers

/// Reads suite files (YAML). The format:
///
/// ```yaml
/// name: seed-article          # optional: output folder name (default: the file name)
/// title: ...                  # optional: report heading
/// samples: 3                  # per (model, prompt) cell
/// seed: 42                    # every sample seed derives from it
/// generation: {max_new_tokens: 64}   # suite-level overrides of every preset
/// models:
///   - label: open-calm-7b
///     model: cyberagent/open-calm-7b    # as --model: demo model, preset id, hub id or folder
///     preset: open-calm-7b              # optional: settings to start from
///     dtype: q8                         # optional: load format f32, f16, bf16, q8, q4 (as --dtype)
///     prompt_format: plain              # optional overrides: family, tokenizer, prompt_format,
///     generation: {temperature: 0.8}    #   add/skip_special_tokens, decode_includes_prompt, generation
///   - label: calm-on-vllm
///     endpoint: {base_url: "http://10.0.0.5:8000", model: cyberagent/open-calm-7b, api_key_env: VLLM_KEY,
///                concurrency: 8}        # optional: requests in flight at once (default 1)
/// prompts:
///   - id: story
///     title: 物語
///     completion: 昔々あるところに、                                   # for plain-format models
///     instruction: 「昔々あるところに」から始まる物語を考えてください。   # for chat-format models
/// ```
public enum SuiteLoader {
    static let suiteKeys = ["name", "title", "samples", "seed", "generation", "models", "prompts"]
    static let modelKeys = [
        "label", "model", "endpoint", "preset", "family", "dtype", "tokenizer", "prompt_format",
        "add_special_tokens", "skip_special_tokens", "decode_includes_prompt", "generation",
    ]
    static let endpointKeys = ["base_url", "model", "api_key_env", "concurrency"]
    /// An endpoint's `concurrency` (requests in flight at once).
    static let endpointConcurrency = 1...1000
    static let promptKeys = ["id", "title", "completion", "instruction"]
    static let generationKeys = [
        "do_sample", "temperature", "top_k", "top_p", "typical_p", "repetition_penalty", "no_repeat_ngram_size",
        "min_new_tokens", "max_new_tokens", "max_length", "eos_token_id", "pad_token_id", "stop_strings",
        "stop_string_handling",
    ]
    static let rejectedGenerationKeys = [
        "num_return_sequences": "set `samples` instead: each sample is its own seeded request",
        "seed": "sample seeds derive from the suite's `seed` (see SampleSeeds)",
    ]

    /// Reads and validates the suite file at `path`. Model names and presets are matched by
    /// `resolver`, as every command matches them; nothing is downloaded.
    public static func load(file path: String, resolver: ModelResolver = ModelResolver()) throws(CompareInputError) -> CompareSuite {
        let text: String
        do {
            let data = try UntrustedFile.data(URL(fileURLWithPath: path), limit: 64 << 20)
            guard let decoded = String(data: data, encoding: .utf8) else {
                throw CompareInputError(.unreadable(reason: "not UTF-8 text"), file: path)
            }
            text = decoded
        } catch let error as CompareInputError {
            throw error
        } catch let error as UntrustedFileError {
            throw CompareInputError(.unreadable(reason: error.reason), file: path)
        } catch {
            throw CompareInputError(.unreadable(reason: (error as NSError).localizedDescription), file: path)
        }
        let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        return try parse(yaml: text, file: path, defaultName: name, resolver: resolver)
    }

    /// Parses suite YAML; `file` only labels errors.
    public static func parse(yaml: String, file: String? = nil, defaultName: String = "suite",
                             resolver: ModelResolver = ModelResolver()) throws(CompareInputError) -> CompareSuite {
        do {
            return try SuiteReader(file: file, resolver: resolver).suite(yaml: yaml, defaultName: defaultName)
        } catch let error as CompareInputError {
            throw error
        } catch {
            throw CompareInputError(.unreadable(reason: "\(error)"), file: file)
        }
    }

    /// Reads a `generation:` mapping (GenerationConfig names; one value or a list for eos ids and stop strings).
    static func generation(_ value: YAMLValue) throws -> GenerationParameters {
        typealias R = GenerationParameterRules
        let map = try value.mapping(allowed: generationKeys, rejected: rejectedGenerationKeys)
        var g = GenerationParameters()
        for (key, v) in map.entries {
            switch key {
            case "do_sample": g.doSample = try v.bool()
            // The same domains and words as generate's flags and the server's fields (GenerationParameterRules).
            case "temperature": g.temperature = try v.double(R.temperature)
            case "top_k": g.topK = try v.int(0...Int(Int32.max))
            case "top_p": g.topP = try v.double(R.topP)
            case "typical_p": g.typicalP = try v.double(R.typicalP)
            case "repetition_penalty": g.repetitionPenalty = try v.double(R.repetitionPenalty)
            case "no_repeat_ngram_size": g.noRepeatNgramSize = try v.int(0...1_000_000)
            case "min_new_tokens": g.minNewTokens = try v.int(0...1_000_000)
            case "max_new_tokens": g.maxNewTokens = try v.int(1...1_000_000)
            case "max_length": g.maxLength = try v.int(1...1_000_000)
            case "eos_token_id": g.eosTokenIds = try v.list { try $0.int(0...Int(Int32.max)) }
            case "pad_token_id": g.padTokenId = try v.int(0...Int(Int32.max))
            case "stop_strings": g.stopStrings = try v.list { try $0.nonEmptyString() }
            case "stop_string_handling": g.stopStringHandling = try v.oneOf(StopStringHandling.self)
            default: break
            }
        }
        return g
    }
}

/// One pass over a suite document.
private struct SuiteReader {
    let file: String?
    let resolver: ModelResolver

    func suite(yaml: String, defaultName: String) throws -> CompareSuite {
        let root = try YAMLValue.document(yaml: yaml, file: file)
        let map = try root.mapping(allowed: SuiteLoader.suiteKeys)

        var name = defaultName
        if let v = map["name"] {
            name = try v.nonEmptyString()
            guard !name.contains("/"), name != ".", name != ".." else {
                throw v.error(.invalidValue(value: "\"\(name)\"", reason: "names the output folder, so it cannot contain \"/\""))
            }
        }
        let title = try map["title"].map { try $0.nonEmptyString() }
        let samples = try map["samples"].map { try $0.int(1...1000) } ?? CompareSuite.defaultSamples
        let seed = try map["seed"].map { try $0.uint64() } ?? CompareSuite.defaultSeed
        let suiteGeneration = try map["generation"].map(SuiteLoader.generation) ?? GenerationParameters()

        let promptsValue = try map.required("prompts")
        let prompts = try promptsValue.sequence().map(prompt)
        guard !prompts.isEmpty else { throw promptsValue.error(.emptyList(key: "prompts")) }
        try checkUnique(prompts.map { ($0.prompt.id, $0.line) }, kind: "prompt id", in: promptsValue)

        let modelsValue = try map.required("models")
        let models = try modelsValue.sequence().map { try model($0, suiteGeneration: suiteGeneration) }
        guard !models.isEmpty else { throw modelsValue.error(.emptyList(key: "models")) }
        try checkUnique(models.map { ($0.label, $0.line) }, kind: "model label", in: modelsValue)

        // Every model must find the text its prompt format needs in every prompt.
        for (prompt, line) in prompts {
            for model in models {
                let format = model.preset.promptFormat
                if PromptText.text(of: prompt, for: format) == nil {
                    throw CompareInputError(.missingPromptText(promptID: prompt.id, field: PromptText.field(for: format),
                                                               modelLabel: model.label), file: file, line: line, keyPath: "prompts")
                }
            }
        }
        return CompareSuite(name: name, title: title, file: file, samples: samples, seed: seed,
                            models: models, prompts: prompts.map(\.prompt))
    }

    private func checkUnique(_ ids: [(String, Int?)], kind: String, in list: YAMLValue) throws {
        var firstLine: [String: Int?] = [:]
        for (index, (id, line)) in ids.enumerated() {
            if let first = firstLine[id] {
                throw CompareInputError(.duplicateID(kind: kind, id: id, firstLine: first), file: file, line: line,
                                        keyPath: "\(list.path)[\(index)]")
            }
            firstLine[id] = line
        }
    }

    private func prompt(_ value: YAMLValue) throws -> (prompt: SuitePrompt, line: Int?) {
        let map = try value.mapping(allowed: SuiteLoader.promptKeys)
        let idValue = try map.required("id")
        let id = try identifier(idValue, allowSpaces: false)
        func text(_ key: String) throws -> String? {
            guard let v = map[key] else { return nil }
            let text = try v.string()
            guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw v.error(.emptyPrompt(promptID: id, field: key))
            }
            return text
        }
        let completion = try text("completion"), instruction = try text("instruction")
        guard completion != nil || instruction != nil else { throw value.error(.missingKey(key: "completion")) }
        let title = try map["title"].map { try $0.nonEmptyString() }
        return (SuitePrompt(id: id, title: title, completion: completion, instruction: instruction), value.line)
    }

    /// Labels and ids appear in comma-separated `--models`/`--prompts` lists and in picks files.
    private func identifier(_ value: YAMLValue, allowSpaces: Bool) throws -> String {
        let text = try value.nonEmptyString()
        let bad = text.unicodeScalars.first { scalar in
            scalar == "," || scalar.properties.generalCategory == .control || (!allowSpaces && scalar.properties.isWhitespace)
        }
        if bad != nil || text != text.trimmingCharacters(in: .whitespaces) {
            throw value.error(.invalidValue(value: "\"\(text)\"", reason: allowSpaces
                ? "must not contain commas or control characters, nor start or end with a space"
                : "must not contain commas, spaces or control characters"))
        }
        return text
    }

    private func model(_ value: YAMLValue, suiteGeneration: GenerationParameters) throws -> SuiteModel {
        let map = try value.mapping(allowed: SuiteLoader.modelKeys)
        let source: ModelSource
        let base: ModelPreset
        var origin = PresetOrigin.matched
        let explicitPreset = try map["preset"].map { v in (v, try v.nonEmptyString()) }
        let presetFromName: (String) -> ModelPreset? = { resolver.catalogPreset(named: $0) }

        switch (map["model"], map["endpoint"]) {
        case (.some, .some(let endpointValue)):
            throw endpointValue.error(.invalidValue(value: "for \"endpoint\"", reason: "give either `model` or `endpoint`, not both"))
        case (nil, nil):
            throw value.error(.missingKey(key: "model"))
        case (.some(let modelValue), nil):
            let reference = try modelValue.nonEmptyString()
            source = .local(reference)
            if let (v, name) = explicitPreset, presetFromName(name) == nil { throw unknownPreset(v, name) }
            // The same matching as `kataribe generate --model`, so a suite entry runs with the settings
            // the command would choose; only a hub id the catalog does not know needs `preset:` here,
            // since the cell keys are computed before anything is downloaded.
            let planned: (preset: ModelPreset, origin: PresetOrigin)?
            do { planned = try resolver.plannedPreset(for: reference, preset: explicitPreset?.1) } catch {
                throw unknownPreset(modelValue, reference)
            }
            guard let planned else { throw unknownPreset(modelValue, reference) }
            (base, origin) = planned
        case (nil, .some(let endpointValue)):
            let endpoint = try self.endpoint(endpointValue)
            source = .endpoint(endpoint)
            if let (v, name) = explicitPreset {
                guard let preset = presetFromName(name) else { throw unknownPreset(v, name) }
                base = preset
                origin = .requested
            } else {
                base = presetFromName(endpoint.model) ?? Self.genericEndpointPreset(endpoint)
            }
        }

        var overrides = ModelPresetOverrides()
        for (key, v) in map.entries {
            switch key {
            case "family": overrides.family = try v.oneOf(ModelFamily.self)
            case "tokenizer": overrides.tokenizer = try v.oneOf(TokenizerPreference.self)
            case "prompt_format": overrides.promptFormat = try v.oneOf(PromptFormat.names, PromptFormat.named)
            case "add_special_tokens": overrides.addSpecialTokens = try v.bool()
            case "skip_special_tokens": overrides.skipSpecialTokens = try v.bool()
            case "decode_includes_prompt": overrides.decodeIncludesPrompt = try v.bool()
            default: break
            }
        }
        let modelGeneration = try map["generation"].map(SuiteLoader.generation) ?? GenerationParameters()
        overrides.generation = modelGeneration.merged(over: suiteGeneration)

        // The same names and spellings as `--dtype`; applied when the model loads (`LocalBackend`).
        let weightFormat = try map["dtype"].map { try $0.oneOf(WeightFormat.dtypeNames, WeightFormat.init(dtypeName:)) }
        if weightFormat != nil, case .endpoint = source, let v = map["dtype"] {
            throw v.error(.invalidValue(value: "for an endpoint", reason: "the server decides how it loads its model"))
        }

        let label = try map["label"].map { try identifier($0, allowSpaces: true) } ?? defaultLabel(source, base)
        // An endpoint is sent prompts already formatted, and only a loaded model knows its chat template.
        if case .endpoint = source, base.applying(overrides).promptFormat.isUnresolvedModelTemplate {
            throw (map["prompt_format"] ?? map["preset"] ?? value).error(.invalidValue(
                value: "for an endpoint", reason: "the model's own chat template (`template`) is only known to in-process "
                    + "models; an endpoint is sent prompts already formatted: give it prompt_format: plain or rinna-chat"))
        }
        return SuiteModel(label: label, source: source, preset: base.applying(overrides), presetOrigin: origin,
                          weightFormat: weightFormat, line: value.line)
    }

    private func endpoint(_ value: YAMLValue) throws -> EndpointConfig {
        let map = try value.mapping(allowed: SuiteLoader.endpointKeys)
        let urlValue = try map.required("base_url")
        let baseURL = try urlValue.nonEmptyString()
        guard let url = URL(string: baseURL), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
              url.host != nil else {
            throw urlValue.error(.invalidValue(value: "\"\(baseURL)\"", reason: "expected an http:// or https:// URL"))
        }
        let model = try map.required("model").nonEmptyString()
        var keyVariable: String?
        if let v = map["api_key_env"] {
            let name = try v.nonEmptyString()
            let valid = name.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && $0.properties.isAlphabetic) || ("0"..."9").contains($0) }
            guard valid, !(name.first?.isNumber ?? true) else {
                throw v.error(.invalidValue(value: "\"\(name)\"", reason: "expected an environment variable name (letters, digits, _)"))
            }
            keyVariable = name
        }
        let concurrency = try map["concurrency"].map { try $0.int(SuiteLoader.endpointConcurrency) } ?? 1
        return EndpointConfig(baseURL: baseURL, model: model, apiKeyEnv: keyVariable, concurrency: concurrency)
    }

    private func unknownPreset(_ value: YAMLValue, _ name: String) -> CompareInputError {
        let names = resolver.catalog.flatMap { [$0.id] + ($0.hubRepoID.map { [$0] } ?? []) }
        return value.error(.unknownModel(name: name, suggestion: DidYouMean.suggestion(for: name, among: names)))
    }

    /// Settings for an endpoint serving a model Kataribe has no preset for: plain completion, the
    /// suite's generation settings only.
    static func genericEndpointPreset(_ endpoint: EndpointConfig) -> ModelPreset {
        ModelPreset(id: endpoint.model, hubRepoID: nil, localPath: nil, family: .openCalm, dtype: .float16,
                    tokenizer: .fast, addSpecialTokens: true, skipSpecialTokens: true, decodeIncludesPrompt: false,
                    promptFormat: .plain, generation: GenerationParameters(), summary: "OpenAI-compatible endpoint")
    }

    func defaultLabel(_ source: ModelSource, _ preset: ModelPreset) -> String {
        switch source {
        case .local(let reference):
            if resolver.catalogPreset(named: reference) != nil { return preset.id }
            return URL(fileURLWithPath: reference).lastPathComponent
        case .endpoint(let endpoint):
            return String(endpoint.model.split(separator: "/").last ?? Substring(endpoint.model))
        }
    }
}
