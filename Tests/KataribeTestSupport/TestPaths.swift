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

    /// The real pretrained GGUF models `tools/gguf/fetch_models.py` puts in
    /// `$KATARIBE_GGUF_CACHE` (default `~/.cache/kataribe/gguf`).
    public enum RealGGUF: String, CaseIterable, Sendable {
        case smolLM2 = "SmolLM2-135M-Instruct.Q4_1.gguf"
        case gemma3 = "gemma-3-270m-q4_k_m.gguf"
    }

    public static var ggufCache: URL {
        if let override = ProcessInfo.processInfo.environment["KATARIBE_GGUF_CACHE"], !override.isEmpty {
            return URL(fileURLWithPath: override)
        }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/kataribe/gguf")
    }

    /// The model's file when it has been fetched, else nil (tests skip then).
    public static func realGGUF(_ model: RealGGUF) -> URL? {
        let url = ggufCache.appendingPathComponent(model.rawValue)
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
