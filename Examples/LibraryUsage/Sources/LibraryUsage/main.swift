// Generates a short continuation of a Japanese prompt with a local model folder, using only the
// KataribeGeneration product: `swift run LibraryUsage [MODEL_FOLDER] [PROMPT]`.
import Foundation
import KataribeGeneration // sampling, stopping, GenerationParameters
import KataribeModels     // ModelLoader and model sessions (part of the KataribeGeneration product)
import KataribeTokenizers // AutoTokenizer (ditto)

let arguments = CommandLine.arguments.dropFirst()
// Default: the demo model that ships with Kataribe, two folders above this package.
let packageRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let folder = arguments.first.map { URL(fileURLWithPath: $0) }
    ?? packageRoot.appendingPathComponent("../../Models/demo-calm").standardizedFileURL
let prompt = arguments.dropFirst().first ?? "吾輩は猫である。名前は"

do {
    // tokenizer.json or a SentencePiece model, configured as transformers' AutoTokenizer would.
    let tokenizer = try AutoTokenizer.load(from: folder)
    // config.json picks the architecture; the weights stay memory-mapped in their stored dtype.
    let model = try ModelLoader.load(directory: folder)

    // transformers' GenerationConfig semantics: what is not set here comes from the model's
    // generation_config.json, then from transformers' defaults (top_k 50 when sampling, ...).
    var parameters = GenerationParameters(doSample: true, temperature: 0.8, topP: 0.95,
                                          repetitionPenalty: 1.1, maxNewTokens: 20, seed: 42)
    let configFile = folder.appendingPathComponent("generation_config.json")
    if let data = try? Data(contentsOf: configFile) {
        parameters = parameters.merged(over: try JSONDecoder().decode(GenerationParameters.self, from: data))
    }
    if parameters.eosTokenIds == nil { parameters.eosTokenIds = model.config.eosTokenIDs }
    let resolved = try parameters.resolved()

    // The loop from SamplingSession's documentation: the model session turns tokens into the
    // next position's logits, the sampling session processes them and picks a token.
    let promptTokens = tokenizer.encode(prompt, addSpecialTokens: true)
    let session = model.makeSession()
    let sampling = try SamplingSession(parameters: resolved, promptTokens: promptTokens,
                                       seed: SamplingSession.requestSeed(resolved))
    var detokenizer = StreamingDetokenizer(tokenizer: tokenizer, skipSpecialTokens: true)
    var logits = try session.append(promptTokens)

    print(prompt, terminator: "")
    while !sampling.isFinished {
        let token = try sampling.nextToken(logits: &logits)
        let text = detokenizer.add(token)
        print(text, terminator: "")
        sampling.accept(token, decodedText: text)
        if !sampling.isFinished { logits = try session.append([token]) }
    }
    print(detokenizer.finish())
    let result = sampling.result(text: tokenizer.decode(Array(sampling.generatedTokens), skipSpecialTokens: true))
    print("(\(result.tokens.count) tokens, stopped: \(result.stopReason.rawValue), seed \(result.seed))")
} catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(1)
}
