import Foundation
import KataribeHub
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A fresh cache folder, removed afterwards.
func withTemporaryDirectory<T>(_ body: (URL) async throws -> T) async throws -> T {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("kataribe-hub-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try await body(url)
}

/// Short timeouts and quick retries so fault tests finish in seconds.
func testConfiguration(
    hub: FakeHub?, cache: URL, token: String? = nil, offline: Bool = false,
    readTimeout: Duration = .seconds(5), maxRetries: Int = 3, maxAttemptsPerFile: Int = 100
) -> HubConfiguration {
    HubConfiguration(
        endpoint: hub?.endpoint ?? "http://127.0.0.1:9",
        token: token,
        cacheDirectory: cache,
        offline: offline,
        metadataTimeout: .seconds(5),
        readTimeout: readTimeout,
        retry: RetryPolicy(
            maxRetries: maxRetries, initialDelay: .milliseconds(10), maxDelay: .milliseconds(40),
            maxAttemptsPerFile: maxAttemptsPerFile
        )
    )
}

/// A loopback port where a connection is refused at once: the socket is bound, so no other test can take
/// the port, but never listens.
final class RefusingPort: Sendable {
    let port: Int
    private let descriptor: Int32

    init() throws {
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw POSIXError(.EBADF) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bind(fd, generic, length) == 0 && getsockname(fd, generic, &length) == 0
            }
        }
        guard bound else {
            close(fd)
            throw POSIXError(.EADDRNOTAVAIL)
        }
        descriptor = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(descriptor) }

    var endpoint: String { "http://127.0.0.1:\(port)" }
}

/// Starts a fake hub serving `repos` and a client on a fresh cache; stops and cleans up afterwards.
func withFakeHub<T>(
    _ repos: [FakeRepo], token: String? = nil, readTimeout: Duration = .seconds(5), maxRetries: Int = 3,
    _ body: (FakeHub, HubClient, URL) async throws -> T
) async throws -> T {
    try await withTemporaryDirectory { cache in
        let hub = try await FakeHub.start(repos)
        do {
            let client = HubClient(configuration: testConfiguration(
                hub: hub, cache: cache, token: token, readTimeout: readTimeout, maxRetries: maxRetries
            ))
            let result = try await body(hub, client, cache)
            await hub.stop()
            return result
        } catch {
            await hub.stop()
            throw error
        }
    }
}

/// Deterministic pseudo-random bytes (weights stand-ins large enough to span many chunks).
func pseudoRandomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = seed &+ 0x9E37_79B9_7F4A_7C15
    return (0..<count).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return UInt8(truncatingIfNeeded: state >> 33)
    }
}

enum Repos {
    static let weights = pseudoRandomBytes(300_000, seed: 1)

    /// A typical GPT-NeoX repository: configuration, tokenizer, safetensors weights, plus files a model
    /// does not need.
    static let tiny = FakeRepo(
        id: "kataribe-test/tiny",
        files: [
            "config.json": Array(#"{"model_type": "gpt_neox"}"#.utf8),
            "generation_config.json": Array(#"{"do_sample": true}"#.utf8),
            "tokenizer.json": Array(#"{"version": "1.0"}"#.utf8),
            "tokenizer_config.json": Array(#"{"model_max_length": 2048}"#.utf8),
            "spiece.model": pseudoRandomBytes(5_000, seed: 2),
            "model.safetensors": weights,
            "README.md": Array("# tiny".utf8),
            ".gitattributes": Array("*.safetensors filter=lfs".utf8),
            "onnx/model.onnx": pseudoRandomBytes(1_000, seed: 3),
        ],
        lfs: ["spiece.model", "model.safetensors", "onnx/model.onnx"],
        refs: ["main": FakeRepo.commitA, "v1.0": FakeRepo.commitA]
    )

    static let bothFormats = FakeRepo(
        id: "kataribe-test/both",
        files: [
            "config.json": Array("{}".utf8),
            "model.safetensors": pseudoRandomBytes(2_000, seed: 4),
            "pytorch_model.bin": pseudoRandomBytes(2_000, seed: 5),
        ],
        lfs: ["model.safetensors", "pytorch_model.bin"]
    )

    static func sharded(_ id: String, index: String, shards: [String], listed: [String]? = nil) -> FakeRepo {
        var weightMap: [String: String] = [:]
        for (i, shard) in shards.enumerated() {
            weightMap["layers.\(i).weight"] = shard
            weightMap["layers.\(i).bias"] = shard
        }
        let indexJSON = try! JSONSerialization.data(withJSONObject: ["metadata": ["total_size": 4_000], "weight_map": weightMap])
        var files: [String: [UInt8]] = ["config.json": Array("{}".utf8), index: Array(indexJSON)]
        for (i, shard) in (listed ?? shards).enumerated() { files[shard] = pseudoRandomBytes(2_000, seed: UInt64(10 + i)) }
        return FakeRepo(id: id, files: files, lfs: Set(listed ?? shards))
    }

    static let shardedBin = sharded(
        "kataribe-test/sharded-bin", index: "pytorch_model.bin.index.json",
        shards: ["pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin"]
    )

    static let shardedSafetensors = sharded(
        "kataribe-test/sharded-st", index: "model.safetensors.index.json",
        shards: ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    )
}

extension URL {
    func symlinkDestination() -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: path)
    }

    func readBytes() -> [UInt8]? {
        (try? Data(contentsOf: self)).map(Array.init)
    }
}

/// Runs `body` and returns the HubError it throws (nil if it succeeds or throws something else).
func hubError<T>(_ body: () async throws -> T) async -> HubError? {
    do {
        _ = try await body()
        return nil
    } catch let error as HubError {
        return error
    } catch {
        return nil
    }
}
