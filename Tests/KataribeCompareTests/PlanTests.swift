import Foundation
import KataribeCompare
import KataribeGeneration
import Testing

@Suite("Plans, cell keys and seeds")
struct PlanTests {
    @Test("sample seeds follow the documented derivation and fit in 53 bits")
    func seedDerivation() {
        // SHA-256("kataribe-compare-seed-v1\n7\ncalm\nstory\n0"), first 8 bytes big-endian, low 53 bits
        // (computed independently with Python's hashlib).
        let seed = SampleSeeds.seed(suiteSeed: 7, modelLabel: "calm", promptID: "story", sampleIndex: 0)
        #expect(seed == 2_414_786_919_816_626)
        #expect(seed == SampleSeeds.seed(suiteSeed: 7, modelLabel: "calm", promptID: "story", sampleIndex: 0))
        let others = [
            SampleSeeds.seed(suiteSeed: 7, modelLabel: "calm", promptID: "story", sampleIndex: 1),
            SampleSeeds.seed(suiteSeed: 8, modelLabel: "calm", promptID: "story", sampleIndex: 0),
            SampleSeeds.seed(suiteSeed: 7, modelLabel: "sft", promptID: "story", sampleIndex: 0),
            SampleSeeds.seed(suiteSeed: 7, modelLabel: "calm", promptID: "recipe", sampleIndex: 0),
        ]
        #expect(Set(others + [seed]).count == 5)
        #expect((others + [seed]).allSatisfy { $0 <= SampleSeeds.mask })
    }

    @Test("a cell's seeds do not depend on which other models or prompts the suite has")
    func seedsAreLocal() throws {
        let full = try smallPlan()
        let reduced = try smallPlan(smallSuiteYAML.replacingOccurrences(of: "  - label: calm\n    model: demo-calm\n", with: ""))
        let a = try #require(full.cell(model: "sft", prompt: "recipe"))
        let b = try #require(reduced.cell(model: "sft", prompt: "recipe"))
        #expect(a.seed(sample: 1) == b.seed(sample: 1))
        #expect(a.key == b.key)
    }

    @Test("cell keys change with any setting that changes the text, not with the sample count")
    func cellKeys() throws {
        let base = try smallPlan()
        let key = try #require(base.cell(model: "calm", prompt: "story")).key
        #expect(key.count == 16)
        func keyAfter(_ yaml: String, overrides: CompareOverrides = CompareOverrides()) throws -> String? {
            try smallPlan(yaml, overrides: overrides).cell(model: "calm", prompt: "story")?.key
        }
        #expect(try keyAfter(smallSuiteYAML.replacingOccurrences(of: "samples: 2", with: "samples: 5")) == key)
        #expect(try keyAfter(smallSuiteYAML, overrides: CompareOverrides(samples: 9)) == key)
        #expect(try keyAfter(smallSuiteYAML.replacingOccurrences(of: "seed: 7", with: "seed: 8")) != key)
        #expect(try keyAfter(smallSuiteYAML.replacingOccurrences(of: "昔々あるところに、", with: "昔々、")) != key)
        #expect(try keyAfter(smallSuiteYAML.replacingOccurrences(of: "model: demo-calm", with: "model: demo-calm\n    dtype: float32")) != key)
        let q8 = try keyAfter(smallSuiteYAML.replacingOccurrences(of: "model: demo-calm", with: "model: demo-calm\n    dtype: q8"))
        #expect(q8 != key && q8 != nil)
        #expect(try keyAfter(smallSuiteYAML.replacingOccurrences(of: "model: demo-calm", with: "model: demo-calm\n    dtype: f16"))
            == keyAfter(smallSuiteYAML.replacingOccurrences(of: "model: demo-calm", with: "model: demo-calm\n    dtype: float16")))
        // Suites without `dtype:` keep the keys they had before it was applied (finished samples still count).
        #expect(key == "763d13dbbfc9e382")
        #expect(try keyAfter(smallSuiteYAML.replacingOccurrences(of: "model: demo-calm", with: "model: demo-calm\n    generation: {top_k: 5}")) != key)
        var cli = GenerationParameters()
        cli.maxNewTokens = 3
        #expect(try keyAfter(smallSuiteYAML, overrides: CompareOverrides(generation: cli)) != key)
        // Another model's or prompt's change leaves this cell alone.
        #expect(try keyAfter(smallSuiteYAML.replacingOccurrences(of: "カレーの作り方。まず、", with: "別の")) == key)
    }

    @Test("chat models are sent the instruction in rinna's format; outputs display like the model cards")
    func promptText() throws {
        let plan = try smallPlan()
        #expect(plan.cell(model: "calm", prompt: "story")?.prompt == "昔々あるところに、")
        #expect(plan.cell(model: "sft", prompt: "story")?.prompt == "ユーザー: 物語を考えてください。<NL>システム: ")
        let calm = try #require(plan.model("calm")), sft = try #require(plan.model("sft"))
        #expect(PromptText.display(output: "おじいさんが", sentPrompt: "昔々、", preset: calm.preset) == "昔々、おじいさんが")
        #expect(PromptText.display(output: "はい<NL>どうぞ</s>", sentPrompt: "x", preset: sft.preset) == "はい\nどうぞ")
    }

    @Test("the plan round-trips through plan.json")
    func planCodable() throws {
        let plan = try smallPlan()
        let data = try JSONEncoder().encode(plan)
        #expect(try JSONDecoder().decode(ComparePlan.self, from: data) == plan)
    }
}
