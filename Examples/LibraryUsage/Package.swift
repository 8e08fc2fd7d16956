// swift-tools-version: 6.1
import PackageDescription

// A program that uses Kataribe as a library: tokenizer, model and transformers-style sampling from
// the `KataribeGeneration` product (no networking or server packages are built).
//
// Inside this repository the dependency is the checkout two folders up (`name:` makes
// `package: "Kataribe"` below match whatever the checkout's folder is called). In your own
// package, depend on a released version instead:
//
//     .package(url: "https://github.com/<owner>/kataribe", from: "0.9.0"),
//
// with the same `.product(name: "KataribeGeneration", package: "Kataribe")` in the target.
// tools/check_library_package.sh builds this example exactly that way, from a temporary tag.
let package = Package(
    name: "LibraryUsage",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Kataribe", path: "../.."),
    ],
    targets: [
        .executableTarget(
            name: "LibraryUsage",
            dependencies: [
                .product(name: "KataribeGeneration", package: "Kataribe"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
