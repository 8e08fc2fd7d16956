import Foundation
import Testing
@testable import KataribeGeneration

@Suite("Which processors run, in which order, with which defaults")
struct ProcessorChainTests {
    func names(_ p: GenerationParameters) throws -> [String] {
        LogitsProcessorChain(try p.resolved()).transformersNames
    }

    @Test("sampling with nothing else set applies top_k = 50, like transformers' global default")
    func samplingDefaultsToTopK50() throws {
        let resolved = try GenerationParameters(doSample: true).resolved()
        #expect(resolved.topK == 50)
        let chain = LogitsProcessorChain(resolved)
        #expect(chain.transformersNames == ["TopKLogitsWarper"])
        #expect((chain.processors[0] as? TopKWarper)?.topK == 50)
    }

    @Test("temperature 1.0, top_p 1.0, typical_p 1.0 and top_k 0 add no processor")
    func neutralValuesAddNothing() throws {
        #expect(try names(GenerationParameters(doSample: true, temperature: 1.0, topK: 0, topP: 1.0, typicalP: 1.0)).isEmpty)
    }

    @Test("greedy decoding ignores the warpers but keeps penalties, n-gram bans and min_new_tokens")
    func greedyKeepsOnlyNonWarpers() throws {
        let p = GenerationParameters(doSample: false, temperature: 0.5, topK: 3, topP: 0.5, typicalP: 0.5,
                                     repetitionPenalty: 1.2, noRepeatNgramSize: 2, minNewTokens: 3, eosTokenIds: [0])
        #expect(try names(p) == ["RepetitionPenaltyLogitsProcessor", "NoRepeatNGramLogitsProcessor",
                                 "MinNewTokensLengthLogitsProcessor"])
    }

    @Test("the full order is penalty, n-gram, min_new_tokens, temperature, top-k, top-p, typical")
    func fullOrder() throws {
        let p = GenerationParameters(doSample: true, temperature: 0.7, topK: 10, topP: 0.9, typicalP: 0.9,
                                     repetitionPenalty: 1.1, noRepeatNgramSize: 3, minNewTokens: 5, eosTokenIds: [2])
        #expect(try names(p) == [
            "RepetitionPenaltyLogitsProcessor", "NoRepeatNGramLogitsProcessor", "MinNewTokensLengthLogitsProcessor",
            "TemperatureLogitsWarper", "TopKLogitsWarper", "TopPLogitsWarper", "TypicalLogitsWarper",
        ])
    }

    @Test("min_new_tokens does nothing without an eos id, as in transformers")
    func minNewTokensNeedsEOS() throws {
        #expect(try names(GenerationParameters(doSample: false, minNewTokens: 10)).isEmpty)
    }

    @Test("values transformers ignores are ignored: negative no_repeat_ngram_size and min_new_tokens")
    func ignoredValues() throws {
        #expect(try names(GenerationParameters(noRepeatNgramSize: -1, minNewTokens: -3, eosTokenIds: [1])).isEmpty)
    }

    @Test("values transformers rejects are typed errors naming the parameter",
          arguments: [
              (GenerationParameters(doSample: true, temperature: -0.1), "temperature"),
              (GenerationParameters(doSample: true, topK: -1), "top_k"),
              (GenerationParameters(doSample: true, topP: -0.1), "top_p"),
              (GenerationParameters(doSample: true, topP: 1.5), "top_p"),
              (GenerationParameters(doSample: true, typicalP: 0), "typical_p"),
              (GenerationParameters(repetitionPenalty: 0), "repetition_penalty"),
              (GenerationParameters(maxNewTokens: 0), "max_new_tokens"),
              (GenerationParameters(doSample: false, numReturnSequences: 2), "num_return_sequences"),
              (GenerationParameters(numReturnSequences: 0), "num_return_sequences"),
              (GenerationParameters(stopStrings: [""]), "stop_strings"),
          ])
    func rejectedValues(parameters: GenerationParameters, name: String) {
        #expect {
            _ = try parameters.resolved()
        } throws: { error in
            guard case let .invalid(badName, _, _) = error as? GenerationParameterError else { return false }
            return badName == name && "\(error)".contains(name)
        }
    }

    @Test("greedy decoding does not validate sampling-only values of merged settings (transformers only warns)")
    func greedySkipsSamplingValidation() throws {
        _ = try GenerationParameters(doSample: false, temperature: -1, topK: -5).resolved()
    }

    @Test("sampling at temperature 0 picks the most likely token, as in vLLM and the OpenAI API")
    func samplingAtTemperatureZeroIsGreedy() throws {
        let p = try GenerationParameters(doSample: true, temperature: 0, topP: 0.9).resolved()
        #expect(!p.drawsSamples)
        #expect(LogitsProcessorChain(p).transformersNames.isEmpty)
    }
}

@Suite("What a person may ask for: every setting's domain, whatever do_sample says")
struct GenerationParameterRulesTests {
    @Test("a value outside its domain is a typed error naming the setting, for greedy decoding too",
          arguments: [
              (GenerationParameters(doSample: false, temperature: -0.1), "temperature"),
              (GenerationParameters(temperature: .nan), "temperature"),
              (GenerationParameters(temperature: .infinity), "temperature"),
              (GenerationParameters(doSample: false, topK: -1), "top_k"),
              (GenerationParameters(doSample: false, topP: 1.5), "top_p"),
              (GenerationParameters(topP: -0.01), "top_p"),
              (GenerationParameters(topP: .nan), "top_p"),
              (GenerationParameters(typicalP: 0), "typical_p"),
              (GenerationParameters(typicalP: 1.01), "typical_p"),
              (GenerationParameters(repetitionPenalty: 0), "repetition_penalty"),
              (GenerationParameters(repetitionPenalty: -1.2), "repetition_penalty"),
              (GenerationParameters(noRepeatNgramSize: -1), "no_repeat_ngram_size"),
              (GenerationParameters(minNewTokens: -1), "min_new_tokens"),
              (GenerationParameters(maxNewTokens: 0), "max_new_tokens"),
              (GenerationParameters(maxLength: 0), "max_length"),
              (GenerationParameters(numReturnSequences: 0), "num_return_sequences"),
              (GenerationParameters(stopStrings: ["</s>", ""]), "stop_strings"),
          ])
    func refused(parameters: GenerationParameters, name: String) {
        #expect {
            try parameters.validate()
        } throws: { error in
            guard case let .invalid(badName, _, _) = error as? GenerationParameterError else { return false }
            return badName == name
        }
    }

    @Test("the edges of each domain are accepted: temperature 0, top_p 0 and 1, typical_p 1, top_k 0")
    func edgesAccepted() throws {
        try GenerationParameters(doSample: true, temperature: 0, topK: 0, topP: 0, typicalP: 1, repetitionPenalty: 0.01,
                                 noRepeatNgramSize: 0, minNewTokens: 0, maxNewTokens: 1, numReturnSequences: 1).validate()
        try GenerationParameters(topP: 1).validate()
        try GenerationParameters().validate()
    }

    @Test("the message names the setting, the value and the domain, as transformers' constructors do")
    func message() {
        #expect(throws: GenerationParameterError.invalid(name: "top_p", value: "1.5", reason: "must be between 0 and 1")) {
            try GenerationParameters(topP: 1.5).validate()
        }
        let error = GenerationParameterError.invalid(name: "top_p", value: "1.5", reason: GenerationParameterRules.topP.requirement)
        #expect(error.description == "invalid generation parameter top_p=1.5: must be between 0 and 1")
    }

    @Test("without max_new_tokens the limit is what max_length (default 20) leaves after the prompt")
    func maxLengthFallback() throws {
        let r = try GenerationParameters().resolved()
        #expect(try r.maxNewTokens(promptLength: 5) == 15)
        #expect(throws: GenerationParameterError.promptReachesMaxLength(promptLength: 20, maxLength: 20)) {
            try r.maxNewTokens(promptLength: 20)
        }
        #expect(try GenerationParameters(maxNewTokens: 7).resolved().maxNewTokens(promptLength: 500) == 7)
    }
}

@Suite("GenerationParameters as a value: JSON names and layering")
struct GenerationParametersTests {
    @Test("decodes a generation_config.json with transformers' names, eos as int or list, unknown keys ignored")
    func decodesGenerationConfig() throws {
        let single = try JSONDecoder().decode(GenerationParameters.self, from: Data("""
            {"_from_model_config": true, "bos_token_id": 0, "eos_token_id": 0, "do_sample": true, "top_k": 40,
             "transformers_version": "4.27.0.dev0", "stop_strings": "###"}
            """.utf8))
        #expect(single.eosTokenIds == [0])
        #expect(single.doSample == true && single.topK == 40)
        #expect(single.stopStrings == ["###"])
        let many = try JSONDecoder().decode(GenerationParameters.self, from: Data(#"{"eos_token_id": [2, 3]}"#.utf8))
        #expect(many.eosTokenIds == [2, 3])
    }

    @Test("encodes with GenerationConfig names and round-trips")
    func roundTrip() throws {
        let p = GenerationParameters(doSample: true, temperature: 0.7, topK: 5, topP: 0.9, typicalP: 0.95,
                                     repetitionPenalty: 1.1, noRepeatNgramSize: 3, minNewTokens: 2, maxNewTokens: 64,
                                     maxLength: 100, eosTokenIds: [3], padTokenId: 0, stopStrings: ["\n\n"],
                                     numReturnSequences: 2, seed: 42, stopStringHandling: .strip)
        let data = try JSONEncoder().encode(p)
        let json = String(decoding: data, as: UTF8.self)
        for key in ["do_sample", "top_k", "top_p", "typical_p", "repetition_penalty", "no_repeat_ngram_size",
                    "min_new_tokens", "max_new_tokens", "eos_token_id", "pad_token_id", "stop_strings",
                    "num_return_sequences", "seed", "stop_string_handling"] {
            #expect(json.contains("\"\(key)\""), "\(key)")
        }
        #expect(try JSONDecoder().decode(GenerationParameters.self, from: data) == p)
    }

    @Test("merged(over:) lets every set field win and leaves unset ones to the base")
    func merging() {
        let preset = GenerationParameters(doSample: true, temperature: 0.7, topP: 0.9, maxNewTokens: 64)
        let cli = GenerationParameters(temperature: 0.2, seed: 1)
        let merged = cli.merged(over: preset)
        #expect(merged == GenerationParameters(doSample: true, temperature: 0.2, topP: 0.9, maxNewTokens: 64, seed: 1))
    }
}
