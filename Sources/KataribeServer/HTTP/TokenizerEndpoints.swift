import Foundation
import Hummingbird
import KataribeApp
import KataribeGeneration
import KataribeTokenizers

/// vLLM's tokenizer endpoints at the server root, which lm-evaluation-harness's remote tokenizer
/// uses when no Hugging Face tokenizer is at hand: `GET /tokenizer_info`, `POST /tokenize`,
/// `POST /detokenize`. They are the served model's own tokenizer, so ids computed here are the ids
/// `/v1/completions` scores.
struct TokenizerEndpoints: Sendable {
    let model: LoadedModel
    let maxBodyBytes: Int

    struct Info: Encodable {
        var eosToken: String?
        var bosToken: String?
        var padToken: String?
        var chatTemplate: String?
        var modelMaxLength: Int
        var tokenizerClass = "kataribe"

        enum CodingKeys: String, CodingKey {
            case eosToken = "eos_token", bosToken = "bos_token", padToken = "pad_token", chatTemplate = "chat_template"
            case modelMaxLength = "model_max_length", tokenizerClass = "tokenizer_class"
        }
    }

    func info() -> Response {
        let tokenizer = model.tokenizer, special = tokenizer.specialTokens
        let text = { (id: Int?) in id.map { tokenizer.decode([$0], skipSpecialTokens: false) } }
        let template = (model.preset.promptFormat.style as? ChatTemplateFormat)?.template.source
        return .json(Info(eosToken: text(special.eos ?? model.model.config.eosTokenIDs.first), bosToken: text(special.bos), padToken: text(special.pad),
                          chatTemplate: template, modelMaxLength: model.contextLength))
    }

    struct TokenizeBody: Decodable {
        var prompt: String
        var addSpecialTokens: Bool
        enum CodingKeys: String, CodingKey {
            case prompt, model
            case addSpecialTokens = "add_special_tokens"
        }
        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            prompt = try c.decode(String.self, forKey: .prompt)
            addSpecialTokens = try c.decodeIfPresent(Bool.self, forKey: .addSpecialTokens) ?? true
        }
    }

    struct Tokenized: Encodable {
        var tokens: [Int]
        var count: Int
        var maxModelLen: Int
        enum CodingKeys: String, CodingKey {
            case tokens, count
            case maxModelLen = "max_model_len"
        }
    }

    func tokenize(_ data: Data) throws(APIError) -> Response {
        let body = try JSONCoding.decodeRequest(TokenizeBody.self, from: data)
        let tokens = Self.encode(body.prompt, tokenizer: model.tokenizer, addSpecialTokens: body.addSpecialTokens)
        return .json(Tokenized(tokens: tokens, count: tokens.count, maxModelLen: model.contextLength))
    }

    struct DetokenizeBody: Decodable {
        var tokens: [Int]
    }

    struct Detokenized: Encodable {
        var prompt: String
    }

    func detokenize(_ data: Data) throws(APIError) -> Response {
        let body = try JSONCoding.decodeRequest(DetokenizeBody.self, from: data)
        let vocabulary = model.model.vocabularySize
        if let bad = body.tokens.first(where: { $0 < 0 || $0 >= vocabulary }) {
            throw .invalidRequest("token id \(bad) is outside the vocabulary (0..<\(vocabulary))", param: "tokens")
        }
        return .json(Detokenized(prompt: model.tokenizer.decode(body.tokens, skipSpecialTokens: false)))
    }

    /// Ids for `text` where special-token text (`<|endoftext|>`, `</s>`) stands for its id, as
    /// transformers' tokenizers treat added tokens: the text is split at them, longest first, and
    /// the pieces between are encoded without special tokens; `addSpecialTokens` then applies the
    /// tokenizer's template (a BOS) to the whole, as `encode` does.
    static func encode(_ text: String, tokenizer: any Tokenizer, addSpecialTokens: Bool) -> [Int] {
        let specials = tokenizer.specialTokens.all
            .map { (id: $0, text: tokenizer.decode([$0], skipSpecialTokens: false)) }
            .filter { !$0.text.isEmpty }
            .sorted { $0.text.count != $1.text.count ? $0.text.count > $1.text.count : $0.id < $1.id }
        let template = addSpecialTokens ? tokenizer.encode("", addSpecialTokens: true) : []
        guard !specials.isEmpty, specials.contains(where: { text.contains($0.text) }) else {
            return tokenizer.encode(text, addSpecialTokens: addSpecialTokens)
        }
        var ids: [Int] = [], rest = Substring(text), pending = ""
        func flush() {
            if !pending.isEmpty { ids += tokenizer.encode(pending, addSpecialTokens: false) }
            pending = ""
        }
        outer: while !rest.isEmpty {
            for special in specials where rest.hasPrefix(special.text) {
                flush()
                ids.append(special.id)
                rest = rest.dropFirst(special.text.count)
                continue outer
            }
            pending.append(rest.removeFirst())
        }
        flush()
        // The template's tokens (a BOS before, an EOS after) around the whole, as encode adds them.
        guard !template.isEmpty else { return ids }
        let plain = tokenizer.encode("x", addSpecialTokens: false), wrapped = tokenizer.encode("x", addSpecialTokens: true)
        guard let at = wrapped.firstIndex(of: plain.first ?? -1) else { return template + ids }
        return Array(wrapped[..<at]) + ids + Array(wrapped[(at + plain.count)...])
    }
}
