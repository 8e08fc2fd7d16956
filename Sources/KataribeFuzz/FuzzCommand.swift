import ArgumentParser
import Foundation
import KataribeFuzzSupport

/// `kataribe-fuzz`: a seeded mutation fuzzer for every parser of untrusted bytes. Each input must
/// end in a parse or a typed error; a crash, a Swift trap, a stack overflow or an input that runs
/// past `--timeout` stops the run with the input saved under `--artifacts`.
@main
struct FuzzCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kataribe-fuzz",
        abstract: "Fuzz Kataribe's parsers of untrusted bytes with seeded mutations.",
        discussion: """
        Targets: \(FuzzTarget.all.map(\.name).joined(separator: ", ")) (default: all).
        Run from the repository root (seeds are read from Tests/Fuzz/seeds and fixture files).
        The same --seed gives the same inputs, so a run can be repeated exactly. On a crash or hang
        the input is written to ARTIFACTS/crash-TARGET or ARTIFACTS/timeout-TARGET; --replay FILE
        runs one saved input again.
        """)

    @Argument(help: "Targets to fuzz (default: all).")
    var targets: [String] = []

    @Option(help: "Seconds per target.")
    var seconds: Double = 10

    @Option(help: "Inputs per target (stops at whichever of --seconds and --runs comes first).")
    var runs: Int?

    @Option(help: "Random seed of the mutation sequence.")
    var seed: UInt64 = 1

    @Option(help: "Where crashing or hanging inputs are written.")
    var artifacts: String = ".build/fuzz-artifacts"

    @Option(help: "Seconds one input may run before it counts as a hang.")
    var timeout: Int = 10

    @Option(help: "Run this one saved input through the (single) target and report the outcome.")
    var replay: String?

    @Flag(help: "List the targets and exit.")
    var list = false

    mutating func run() throws {
        // Line-buffered, so each target's summary is in a CI log even if a later target crashes.
        kf_line_buffer_stdout()
        if list {
            for target in FuzzTarget.all { print("\(target.name.padding(toLength: 15, withPad: " ", startingAt: 0)) \(target.summary)") }
            return
        }
        let chosen = try targets.isEmpty ? FuzzTarget.all : targets.map { name in
            guard let target = FuzzTarget.all.first(where: { $0.name == name }) else {
                throw ValidationError("unknown target '\(name)'; known: \(FuzzTarget.all.map(\.name).joined(separator: ", "))")
            }
            return target
        }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("kataribe-fuzz-\(getpid())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        try FileManager.default.createDirectory(atPath: artifacts, withIntermediateDirectories: true)

        if let replay {
            guard chosen.count == 1 else { throw ValidationError("--replay needs exactly one target") }
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: replay)))
            let outcome = chosen[0].run(bytes, scratch)
            print("\(chosen[0].name): \(replay): \(outcome == .accepted ? "accepted" : "rejected with a typed error")")
            return
        }

        print("kataribe-fuzz: seed \(seed), \(seconds) s per target; crashing or hanging inputs go to \(artifacts)/")
        var total = 0
        for target in chosen {
            total += try fuzz(target, scratch: scratch)
        }
        print("fuzz: \(total) executions, 0 crashes, 0 hangs")
    }

    /// Runs one target; returns its execution count. A crash never returns (see `kf_install`).
    func fuzz(_ target: FuzzTarget, scratch: URL) throws -> Int {
        let seeds = try Self.seeds(for: target)
        let crashPath = URL(fileURLWithPath: artifacts).appendingPathComponent("crash-\(target.name)").path
        let timeoutPath = URL(fileURLWithPath: artifacts).appendingPathComponent("timeout-\(target.name)").path
        guard kf_install(crashPath, timeoutPath, Int32(timeout)) == 0 else { throw ValidationError("cannot install the crash handler") }
        var mutator = Mutator(random: SplitMix64(state: seed ^ Self.stableHash(target.name)),
                              dictionary: target.dictionary.map { Array($0.utf8) }, maximumSize: target.maximumSize)
        let start = ContinuousClock.now
        let limit = Duration.seconds(seconds)
        var executions = 0, accepted = 0
        // Every seed once as it is, then mutations.
        while runs.map({ executions < $0 }) ?? true {
            if executions % 16 == 0, ContinuousClock.now - start > limit { break }
            let input = executions < seeds.count
                ? seeds[executions]
                : mutator.mutate(seeds[mutator.int(seeds.count)], other: seeds[mutator.int(seeds.count)])
            let outcome = input.withUnsafeBufferPointer { buffer -> Outcome in
                kf_input_begin(buffer.baseAddress, buffer.count)
                defer { kf_input_done() }
                return target.run(input, scratch)
            }
            if outcome == .accepted { accepted += 1 }
            executions += 1
        }
        let elapsed = ContinuousClock.now - start
        let rate = Double(executions) / max(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18, 1e-9)
        print("\(target.name): \(executions) inputs (\(seeds.count) seeds), \(accepted) parsed, \(executions - accepted) refused with typed errors, \(String(format: "%.0f", rate))/s")
        return executions
    }

    /// FNV-1a, so a target's mutation stream does not change between runs (String.hashValue does).
    static func stableHash(_ text: String) -> UInt64 {
        text.utf8.reduce(0xcbf2_9ce4_8422_2325 as UInt64) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
    }

    static func seeds(for target: FuzzTarget) throws -> [[UInt8]] {
        var files: [URL] = []
        for path in target.seedPaths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
            if isDirectory.boolValue {
                let names = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
                files += names.map { URL(fileURLWithPath: path).appendingPathComponent($0) }
            } else {
                files.append(URL(fileURLWithPath: path))
            }
        }
        let seeds = try files.map { [UInt8](try Data(contentsOf: $0)) }
        guard !seeds.isEmpty else {
            throw ValidationError("no seeds for \(target.name) (looked in \(target.seedPaths.joined(separator: ", "))); run from the repository root")
        }
        return seeds
    }
}
