import Foundation
import KataribeApp
import KataribeGeneration
import Testing

@Suite("Model presets carry the model cards' settings")
struct ModelPresetTests {
    @Test("open-calm small…7b: fp16, fast tokenizer, plain, sample t=0.7 top_p=0.9 rep=1.05 max_new=64",
          arguments: ["small", "medium", "large", "1b", "3b", "7b"])
    func openCalm(size: String) throws {
        let p = try ModelPresetCatalog.preset(named: "open-calm-\(size)")
        #expect(p.hubRepoID == "cyberagent/open-calm-\(size)")
        #expect(p.family == .openCalm && p.dtype == .float16 && p.tokenizer == .fast && p.promptFormat == .plain)
        #expect(p.skipSpecialTokens)
        #expect(p.generation == GenerationParameters(doSample: true, temperature: 0.7, topP: 0.9,
                                                     repetitionPenalty: 1.05, maxNewTokens: 64))
        // top_k is not in the card, so transformers' default of 50 applies when sampling
        #expect(try p.generation.resolved().topK == 50)
    }

    @Test("rinna 3.6b base: slow tokenizer, no special tokens, sample t=0.8 with min = max = 100 new tokens")
    func rinnaBase() throws {
        let p = try ModelPresetCatalog.preset(named: "rinna/japanese-gpt-neox-3.6b")
        #expect(p.id == "rinna-3.6b")
        #expect(p.tokenizer == .slow && !p.addSpecialTokens && p.promptFormat == .plain)
        #expect(p.generation == GenerationParameters(doSample: true, temperature: 0.8, minNewTokens: 100, maxNewTokens: 100))
    }

    @Test("rinna instruction sft-v2 and ppo: chat format, slow tokenizer, t=0.7 rep=1.1 max_new=128",
          arguments: ["rinna-3.6b-sft-v2", "rinna-3.6b-ppo"])
    func rinnaInstruction(id: String) throws {
        let p = try ModelPresetCatalog.preset(named: id)
        #expect(p.promptFormat == .rinnaChat && p.tokenizer == .slow && !p.addSpecialTokens && !p.skipSpecialTokens)
        #expect(p.hubRepoID?.hasPrefix("rinna/japanese-gpt-neox-3.6b-instruction-") == true)
        #expect(p.generation == GenerationParameters(doSample: true, temperature: 0.7, repetitionPenalty: 1.1, maxNewTokens: 128))
    }

    @Test("demo models are local folders configured like the families they imitate")
    func demo() throws {
        let calm = try ModelPresetCatalog.preset(named: "demo-calm")
        #expect(calm.localPath == "Models/demo-calm" && calm.hubRepoID == nil && calm.dtype == .float16)
        #expect(calm.generation == ModelPresetCatalog.openCalmGeneration)
        let rinna = try ModelPresetCatalog.preset(named: "demo-rinna-sft")
        #expect(rinna.localPath == "Models/demo-rinna-sft" && rinna.promptFormat == .rinnaChat)
        #expect(rinna.generation == ModelPresetCatalog.rinnaInstructionGeneration)
    }

    @Test("ids are unique and an unknown name is an error listing the known ones")
    func lookup() {
        #expect(Set(ModelPresetCatalog.all.map(\.id)).count == ModelPresetCatalog.all.count)
        #expect(ModelPresetCatalog.all.count == 27)
        #expect(throws: ModelPresetError.self) { try ModelPresetCatalog.preset(named: "gpt-5") }
        #expect("\(ModelPresetError.unknownModel(name: "x", known: ["a", "b"]))".contains("a, b"))
    }

    @Test("overrides replace single fields; generation overrides merge field by field")
    func overrides() throws {
        let base = try ModelPresetCatalog.preset(named: "open-calm-small")
        let suite = ModelPresetOverrides(dtype: .float32, generation: GenerationParameters(maxNewTokens: 16))
        let cli = ModelPresetOverrides(generation: GenerationParameters(temperature: 0.2, seed: 3))
        let p = base.applying(suite).applying(cli)
        #expect(p.dtype == .float32 && p.tokenizer == .fast)
        #expect(p.generation == GenerationParameters(doSample: true, temperature: 0.2, topP: 0.9,
                                                     repetitionPenalty: 1.05, maxNewTokens: 16, seed: 3))
        #expect(base.applying(ModelPresetOverrides()) == base)
    }

    @Test("the listing renders an aligned table and JSON that decodes back")
    func listing() throws {
        let table = ModelPresetListing.table()
        let lines = table.split(separator: "\n")
        #expect(lines.count == ModelPresetCatalog.all.count + 1)
        #expect(lines[0].hasPrefix("ID"))
        #expect(table.contains("cyberagent/open-calm-7b"))
        #expect(table.contains("sample t=0.7 top_p=0.9 rep=1.05 max_new=64"))
        let json = try ModelPresetListing.json()
        #expect(json.contains("\"hub_repo_id\" : \"rinna/japanese-gpt-neox-3.6b-instruction-ppo\""))
        #expect(try JSONDecoder().decode([ModelPreset].self, from: Data(json.utf8)) == ModelPresetCatalog.all)
    }
}
