import Foundation

/// Which sample each model shows in a prompt's table, from a picks file:
///
/// ```yaml
/// # prompt id -> model label -> sample number (1-based, as numbered in the reports)
/// story: {open-calm-7b: 2, rinna-3.6b-ppo: 3}
/// recipe:
///   open-calm-1b: 1
/// ```
///
/// Cells without a pick show their first finished sample.
public struct Picks: Sendable, Equatable {
    public var choices: [String: [String: Int]]

    public init(_ choices: [String: [String: Int]] = [:]) { self.choices = choices }

    /// 1-based sample number picked for this cell, if any.
    public func pick(prompt: String, model: String) -> Int? { choices[prompt]?[model] }

    public static func load(file path: String, plan: ComparePlan) throws(CompareInputError) -> Picks {
        let text: String
        do {
            text = try String(contentsOf: URL(fileURLWithPath: path), encoding: .utf8)
        } catch {
            throw CompareInputError(.unreadable(reason: (error as NSError).localizedDescription), file: path)
        }
        return try parse(yaml: text, file: path, plan: plan)
    }

    /// Parses and checks the picks against the plan's prompt ids, model labels and sample count.
    public static func parse(yaml: String, file: String? = nil, plan: ComparePlan) throws(CompareInputError) -> Picks {
        do {
            let root = try YAMLValue.document(yaml: yaml, file: file, allowEmpty: true)
            let prompts = try root.mapping(allowed: plan.prompts.map(\.id))
            var choices: [String: [String: Int]] = [:]
            for (promptID, value) in prompts.entries {
                let models = try value.mapping(allowed: plan.models.map(\.label))
                for (label, number) in models.entries {
                    choices[promptID, default: [:]][label] = try number.int(1...plan.samples)
                }
            }
            return Picks(choices)
        } catch let error as CompareInputError {
            throw error
        } catch {
            throw CompareInputError(.unreadable(reason: "\(error)"), file: file)
        }
    }
}
