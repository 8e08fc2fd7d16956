import Foundation

/// Where tests find their data. Fixtures are committed under `Tests/Fixtures`; the team's shared
/// assets (real tokenizers, corpus) live in `../shared` beside the checkout and may be absent on a
/// fresh clone, so tests that need them must skip when `sharedDirectory` is nil.
public enum TestPaths {
    /// The package root, found from this file's location so tests work from any working directory.
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // KataribeTestSupport
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()

    /// `Tests/Fixtures/<relativePath>`.
    public static func fixture(_ relativePath: String) -> URL {
        packageRoot.appendingPathComponent("Tests/Fixtures").appendingPathComponent(relativePath)
    }

    /// `../shared` (or `$KATARIBE_SHARED_DIR`) when it exists, else nil.
    public static var sharedDirectory: URL? {
        let candidate: URL
        if let override = ProcessInfo.processInfo.environment["KATARIBE_SHARED_DIR"], !override.isEmpty {
            candidate = URL(fileURLWithPath: override)
        } else {
            candidate = packageRoot.deletingLastPathComponent().appendingPathComponent("shared")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDirectory),
              isDirectory.boolValue else { return nil }
        return candidate
    }

    /// `../shared/<relativePath>` when the shared directory and that path exist, else nil.
    public static func shared(_ relativePath: String) -> URL? {
        guard let base = sharedDirectory else { return nil }
        let url = base.appendingPathComponent(relativePath)
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }
}

extension Process {
    /// `waitUntilExit()` for async tests: polls instead of blocking, because all tests share a few
    /// cooperative threads (two on a two-core machine) and a blocked one stalls unrelated tests.
    public func exited() async {
        while isRunning { try? await Task.sleep(for: .milliseconds(10)) }
    }
}
