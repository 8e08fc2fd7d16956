// swift-tools-version: 6.1
import PackageDescription

// Builds of this checkout (README, CI, benchmarks) add optimisation flags that SwiftPM calls
// unsafe; a package that depends on Kataribe by version builds it from `.build/checkouts/…`, where
// SwiftPM refuses unsafe flags, so there it gets none (plain `-c release` optimisation: see
// docs/benchmarks.md for what the flags are worth).
let builtAsDependency = Context.packageDirectory.split(separator: "/").contains("checkouts")
// KATARIBE_NATIVE_CPU=1 also compiles the Swift code for this machine's CPU (`-target-cpu native`):
// a binary that may not run on another CPU, for 2-4% (docs/benchmarks.md, "Build flags"). The C kernels pick
// their instruction set at run time either way.
let nativeCPU = Context.environment["KATARIBE_NATIVE_CPU"] == "1"

// Hot loops are the reason for -Ounchecked: bounds checks inside the inner loops of norms,
// rotary and attention cost more than they protect there. Debug builds keep every check.
let fastRelease: [SwiftSetting] = builtAsDependency ? [] : [
    .unsafeFlags(["-Ounchecked"] + (nativeCPU ? ["-target-cpu", "native"] : []), .when(configuration: .release)),
]

// The C kernels are built for any x86-64 (or other) CPU and pick AVX2/AVX-512 paths at run time,
// so no -march flags here; only the optimisation level (debug builds too: unoptimised intrinsics
// make the model tests minutes slower).
let fastC: [CSetting] = builtAsDependency ? [] : [
    .unsafeFlags(["-O3", "-fno-math-errno"], .when(configuration: .release)),
    .unsafeFlags(["-O2"], .when(configuration: .debug)),
]

let package = Package(
    name: "Kataribe",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "kataribe", targets: ["KataribeCLI"]),
        .executable(name: "kataribe-fuzz", targets: ["KataribeFuzz"]),
        // One library per layer, so a dependent builds only what it uses:
        // tokenizers alone (no SwiftNIO, Hummingbird or Yams) …
        .library(name: "KataribeTokenizers", targets: ["KataribeSupport", "KataribeTokenizers"]),
        // … models, tokenizers, chat templates and transformers-style generation, still without
        // any networking or server package …
        .library(name: "KataribeGeneration", targets: [
            "KataribeSupport", "KataribeTensor", "KataribeCheckpoint", "KataribeModels", "KataribeTokenizers",
            "KataribeTemplates", "KataribeGeneration",
        ]),
        // … and everything: model names and the hub, comparisons and reports, the OpenAI server.
        .library(name: "Kataribe", targets: [
            "KataribeSupport", "KataribeTensor", "KataribeCheckpoint", "KataribeModels",
            "KataribeTokenizers", "KataribeTemplates", "KataribeGeneration", "KataribeHub", "KataribeApp", "KataribeCompare",
            "KataribeServer",
        ]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
    ],
    targets: [
        // Intrinsics Swift cannot emit (int8 dot products, GEMM micro-kernel, vector exp/erf) and
        // the thread pool, each with a portable fallback.
        .target(name: "KataribeCKernels", cSettings: fastC),
        // Reading untrusted input safely: regular files only, sizes checked before allocating,
        // file-derived text bounded and escaped before it reaches a terminal.
        .target(name: "KataribeSupport"),
        // Tensors, dtypes and the numeric kernels (matmul, norms, activations, thread pool).
        .target(name: "KataribeTensor", dependencies: ["KataribeCKernels"], swiftSettings: fastRelease),
        // Reading checkpoints: config.json, safetensors, torch zip/pickle, sharded indexes.
        .target(name: "KataribeCheckpoint", dependencies: ["KataribeTensor", "KataribeSupport"], swiftSettings: fastRelease),
        // Model architectures (one file each) and their forward passes.
        .target(name: "KataribeModels", dependencies: ["KataribeTensor", "KataribeCheckpoint", "KataribeSupport"], swiftSettings: fastRelease),
        // tokenizer.json and SentencePiece tokenizers.
        .target(name: "KataribeTokenizers", dependencies: ["KataribeSupport"], swiftSettings: fastRelease),
        // Jinja2 subset for tokenizers' chat templates (transformers' sandbox semantics, bounded work); checked builds: it runs downloaded text.
        .target(name: "KataribeTemplates"),
        // Logits processors, sampling, stopping, prompt formats (chat templates included), presets.
        .target(name: "KataribeGeneration", dependencies: ["KataribeModels", "KataribeTokenizers", "KataribeTemplates"], swiftSettings: fastRelease),
        // Hugging Face Hub: model ids -> local folders (cache compatible with huggingface_hub, downloads).
        .target(
            name: "KataribeHub",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: fastRelease
        ),
        // Model names -> loaded models (demo models, presets, hub), streaming text generation, chat.
        .target(
            name: "KataribeApp",
            dependencies: ["KataribeModels", "KataribeCheckpoint", "KataribeTokenizers", "KataribeTemplates", "KataribeGeneration", "KataribeHub"],
            swiftSettings: fastRelease
        ),
        // Side-by-side experiments: suite files, resumable results, Markdown/HTML reports, local and endpoint backends.
        .target(
            name: "KataribeCompare",
            dependencies: [
                "KataribeApp", "KataribeGeneration", "KataribeHub", "KataribeModels", "KataribeTensor", "KataribeTokenizers",
                "KataribeSupport",
                .product(name: "Yams", package: "Yams"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // OpenAI-compatible HTTP API over a loaded model (`kataribe serve`).
        .target(
            name: "KataribeServer",
            dependencies: [
                "KataribeApp", "KataribeGeneration", "KataribeModels", "KataribeTokenizers",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: fastRelease
        ),
        .executableTarget(
            name: "KataribeCLI",
            dependencies: [
                "KataribeSupport", "KataribeTensor", "KataribeCheckpoint", "KataribeModels",
                "KataribeTokenizers", "KataribeGeneration", "KataribeHub", "KataribeApp", "KataribeCompare", "KataribeServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: fastRelease
        ),
        // The fuzzing harness: seeded mutations against every parser of untrusted bytes, with the
        // crash/hang capture (signal handler on its own stack, watchdog) in C.
        .target(name: "KataribeFuzzSupport"),
        .executableTarget(
            name: "KataribeFuzz",
            dependencies: [
                "KataribeFuzzSupport", "KataribeApp", "KataribeCheckpoint", "KataribeModels", "KataribeTokenizers", "KataribeTemplates", "KataribeCompare",
                "KataribeServer", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Locates committed fixtures (Tests/Fixtures) and the optional ../shared assets for tests.
        .target(name: "KataribeTestSupport", path: "Tests/KataribeTestSupport"),
        .testTarget(name: "KataribeSupportTests", dependencies: ["KataribeSupport"]),
        .testTarget(name: "KataribeTensorTests", dependencies: ["KataribeTensor", "KataribeTestSupport"]),
        .testTarget(name: "KataribeCheckpointTests", dependencies: ["KataribeCheckpoint", "KataribeTestSupport"]),
        .testTarget(name: "KataribeModelsTests", dependencies: ["KataribeModels", "KataribeCheckpoint", "KataribeTokenizers", "KataribeTestSupport"]),
        .testTarget(name: "KataribeTokenizersTests", dependencies: ["KataribeTokenizers", "KataribeCheckpoint", "KataribeApp", "KataribeTestSupport"]),
        .testTarget(name: "KataribeTemplatesTests", dependencies: ["KataribeTemplates", "KataribeTestSupport"]),
        .testTarget(name: "KataribeGenerationTests", dependencies: ["KataribeGeneration", "KataribeTemplates", "KataribeTestSupport"]),
        .testTarget(name: "KataribeAppTests", dependencies: ["KataribeApp", "KataribeTestSupport"]),
        // Starts real servers on ephemeral loopback ports and drives them over HTTP.
        .testTarget(name: "KataribeServerTests", dependencies: [
            "KataribeServer", "KataribeApp", "KataribeTestSupport",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        // Drives the built `kataribe` binary (through a pseudo-terminal for `chat`).
        .testTarget(name: "KataribeCLITests", dependencies: ["KataribeCLI", "KataribeApp", "KataribeModels", "KataribeTensor", "KataribeTestSupport"]),
        // Runs against a loopback fake of the hub built on swift-nio (no internet).
        .testTarget(name: "KataribeHubTests", dependencies: [
            "KataribeHub", "KataribeTestSupport",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        ]),
        // Runs the endpoint backend against a loopback OpenAI-style server built on swift-nio, and the CLI
        // (built product) in a subprocess for the kill test.
        .testTarget(name: "KataribeCompareTests", dependencies: [
            "KataribeCompare", "KataribeApp", "KataribeServer", "KataribeTestSupport",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
