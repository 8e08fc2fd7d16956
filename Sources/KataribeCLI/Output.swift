import ArgumentParser
import Foundation
import KataribeHub
import KataribeSupport

/// Output helpers shared by the subcommands.
enum CLIOutput {
    /// Prints `error: <message>` on stderr: the one way every command reports a failure (lowercase,
    /// like swift and cargo), whether it stops the command or not.
    static func error(_ message: String) {
        // Messages can quote files and servers: control characters escaped, length bounded.
        let text = UntrustedText.message(message.trimmingCharacters(in: .newlines))
        FileHandle.standardError.write(Data("error: \(text)\n".utf8))
    }

    /// Prints `message` as an error and exits with `status`.
    static func fail(_ message: String, status: Int32 = 1) -> Never {
        error(message)
        Foundation.exit(status)
    }

    /// Reports an error that reached `main`: ArgumentParser's own (bad arguments, a failed
    /// `validate()`, with the usage after the message) and whatever a command's `run()` threw.
    /// `--help` and `--version` are not failures and print as ArgumentParser prints them; an
    /// `ExitCode` only carries a status, its command has said what went wrong already.
    static func exit(reporting error: any Error) -> Never {
        let status = Kataribe.exitCode(for: error)
        if status == .success || error is ExitCode { Kataribe.exit(withError: error) }
        var message = Kataribe.fullMessage(for: error)
        // ArgumentParser's "Error: " prefix; what follows is the message and, for usage errors, the usage.
        if message.hasPrefix("Error: ") { message.removeFirst("Error: ".count) }
        fail(message.isEmpty ? "\(error)" : message, status: status.rawValue)
    }

    static func printJSON<T: Encodable>(_ value: T) {
        do {
            print(try jsonText(value))
        } catch {
            fail("cannot encode JSON: \(error)")
        }
    }

    static func grouped(_ value: Int) -> String {
        let digits = Array(String(value))
        var out = ""
        for (i, d) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(d)
        }
        return out
    }

    /// Sizes in the one unit system of every human-readable size and speed (`ByteCountText`: KiB, MiB, GiB).
    static func bytes(_ count: Int) -> String {
        ByteCountText.format(Int64(count))
    }
}

/// A pretty-printed JSON document with sorted keys. Every `--json` output names its keys in
/// snake_case (explicit `CodingKeys`, as transformers and the OpenAI API name theirs).
func jsonText<T: Encodable>(_ value: T) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

/// Unbuffered writes, so streamed text appears chunk by chunk (every chunk is whole UTF-8).
enum Terminal {
    static func out(_ text: String) {
        guard !text.isEmpty else { return }
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    static func err(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }

    static var stdinIsTerminal: Bool { isatty(STDIN_FILENO) == 1 }

    /// Whether stderr may get ANSI escape codes (colour, erasing and redrawing a progress line).
    static var stderrTakesEscapes: Bool {
        takesEscapes(isTerminal: isatty(STDERR_FILENO) == 1, environment: ProcessInfo.processInfo.environment)
    }

    /// Escape codes go only to a terminal, and not when NO_COLOR is set to anything but the empty
    /// string (https://no-color.org) or the terminal says it cannot move the cursor (TERM=dumb).
    /// Without them, progress is written as plain lines, as for a file or a pipe.
    static func takesEscapes(isTerminal: Bool, environment: [String: String]) -> Bool {
        guard isTerminal else { return false }
        if let noColor = environment["NO_COLOR"], !noColor.isEmpty { return false }
        return environment["TERM"] != "dumb"
    }
}
