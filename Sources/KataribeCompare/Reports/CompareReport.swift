import Foundation

/// The results of a plan arranged for reports: for every prompt and model, the samples (by index),
/// the errors of samples that have not succeeded, and the sample chosen for the table.
public struct CompareReport: Sendable {
    public struct Cell: Sendable {
        public var model: PlannedModel
        public var cell: PlannedCell
        /// `plan.samples` slots, nil where no sample is finished.
        public var samples: [SampleRecord?]
        /// The latest error for each sample index that has no finished sample.
        public var errors: [Int: ErrorRecord]
        /// 0-based index of the sample shown in the table: the pick when it is finished, else the first finished one.
        public var chosen: Int?
        /// The pick (0-based) when the picks file named one, even if that sample is missing.
        public var picked: Int?

        public var finishedCount: Int { samples.lazy.compactMap { $0 }.count }
    }

    public struct Row: Sendable {
        public var prompt: SuitePrompt
        public var cells: [Cell]
    }

    public struct ModelStats: Sendable, Codable, Equatable {
        public var label: String
        public var finished: Int
        public var failed: Int
        public var missing: Int
        /// Output tokens over generation seconds of all finished samples; nil with none.
        public var tokensPerSecond: Double?
        /// Load time of the most recent run that produced a sample.
        public var loadSeconds: Double?
        public var outputTokens: Int

        enum CodingKeys: String, CodingKey {
            case label, finished, failed, missing
            case tokensPerSecond = "tokens_per_second"
            case loadSeconds = "load_seconds"
            case outputTokens = "output_tokens"
        }
    }

    public var plan: ComparePlan
    public var rows: [Row]
    public var stats: [ModelStats]
    /// Kataribe version of the newest sample (or nil).
    public var kataribeVersion: String?

    public init(plan: ComparePlan, entries: [ResultEntry], picks: Picks = Picks()) {
        self.plan = plan
        var samples: [String: [Int: SampleRecord]] = [:]
        var errors: [String: [Int: ErrorRecord]] = [:]
        var version: String?
        for entry in entries {
            switch entry {
            case .sample(let s) where s.sampleIndex >= 0 && s.sampleIndex < plan.samples:
                // The first record of a sample is the one every later run skipped to; keep it.
                if samples[s.cellKey]?[s.sampleIndex] == nil { samples[s.cellKey, default: [:]][s.sampleIndex] = s }
                version = s.kataribeVersion
            case .error(let e) where e.sampleIndex >= 0 && e.sampleIndex < plan.samples:
                errors[e.cellKey, default: [:]][e.sampleIndex] = e
            default:
                break
            }
        }
        kataribeVersion = version
        let rows = plan.prompts.map { prompt in
            Row(prompt: prompt, cells: plan.models.compactMap { model in
                guard let cell = plan.cell(model: model.label, prompt: prompt.id) else { return nil }
                let found = samples[cell.key] ?? [:]
                let slots = (0..<plan.samples).map { found[$0] }
                let failed = (errors[cell.key] ?? [:]).filter { found[$0.key] == nil }
                let picked = picks.pick(prompt: prompt.id, model: model.label).map { $0 - 1 }
                let chosen = picked.flatMap { slots.indices.contains($0) && slots[$0] != nil ? $0 : nil }
                    ?? slots.firstIndex { $0 != nil }
                return Cell(model: model, cell: cell, samples: slots, errors: failed, chosen: chosen, picked: picked)
            })
        }
        self.rows = rows
        stats = plan.models.map { model in
            let cells = rows.flatMap(\.cells).filter { $0.model.label == model.label }
            let finished = cells.flatMap { $0.samples.compactMap { $0 } }
            let tokens = finished.reduce(0) { $0 + $1.outputTokens }
            let seconds = finished.reduce(0.0) { $0 + $1.timings.generationSeconds }
            let latest = finished.max { $0.finishedAt < $1.finishedAt }
            let failed = cells.reduce(0) { $0 + $1.errors.count }
            return ModelStats(label: model.label, finished: finished.count, failed: failed,
                              missing: cells.count * plan.samples - finished.count - failed,
                              tokensPerSecond: seconds > 0 ? Double(tokens) / seconds : nil,
                              loadSeconds: latest?.timings.loadSeconds, outputTokens: tokens)
        }
    }

    /// Every unresolved error, prompt-major.
    public var errors: [ErrorRecord] {
        rows.flatMap { $0.cells.flatMap { cell in cell.errors.keys.sorted().compactMap { cell.errors[$0] } } }
    }

    /// Every sample of the plan is finished.
    public var isComplete: Bool { stats.allSatisfy { $0.missing == 0 && $0.failed == 0 } }
}
