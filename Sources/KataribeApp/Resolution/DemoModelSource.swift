import Foundation
import KataribeHub

/// Finds the project's demo models (`demo-calm`, `demo-rinna-sft`) by short name, in front of the hub.
///
/// A demo model `NAME` is the folder `NAME` inside the first of these `Models` folders that has it:
/// 1. `$KATARIBE_MODELS_DIR`
/// 2. `<folder of the running executable>/../share/kataribe/Models` (an installed copy)
/// 3. `Models` in the source checkout the running executable was built in: the nearest folder
///    above it (`.build/<triple>/release/kataribe` → the checkout) holding `Package.swift`, found
///    at run time, so a copied binary carries no build machine's path
/// 4. `./Models` (the current directory)
public struct DemoModelSource: Sendable {
    /// The `Models` folders searched, in order.
    public var searchDirectories: [URL]
    /// Demo presets this source answers for (presets with a `localPath`).
    public var presets: [ModelPreset]

    public init(searchDirectories: [URL] = DemoModelSource.defaultSearchDirectories(),
                presets: [ModelPreset] = DemoModelSource.demoPresets) {
        self.searchDirectories = searchDirectories
        self.presets = presets
    }

    /// The catalog's presets that live in the repository rather than on the hub.
    public static var demoPresets: [ModelPreset] { ModelPresetCatalog.all.filter { $0.localPath != nil } }

    /// The lookup order described above, for this process.
    public static func defaultSearchDirectories(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        executable: URL? = Bundle.main.executableURL,
        currentDirectory: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    ) -> [URL] {
        var folders: [URL] = []
        if let dir = environment["KATARIBE_MODELS_DIR"], !dir.isEmpty {
            folders.append(URL(fileURLWithPath: (dir as NSString).expandingTildeInPath, isDirectory: true))
        }
        if let executable {
            let folder = executable.resolvingSymlinksInPath().deletingLastPathComponent()
            folders.append(folder.appendingPathComponent("../share/kataribe/Models", isDirectory: true).standardizedFileURL)
            if let checkout = checkout(above: folder) {
                folders.append(checkout.appendingPathComponent("Models", isDirectory: true))
            }
        }
        folders.append(currentDirectory.appendingPathComponent("Models", isDirectory: true))
        return folders
    }

    /// The nearest of `folder` and the four folders above it that holds a `Package.swift` (a
    /// build's products live three levels below the checkout: `.build/<triple>/<configuration>`).
    static func checkout(above folder: URL) -> URL? {
        var candidate = folder.standardizedFileURL
        for _ in 0..<5 {
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("Package.swift").path) { return candidate }
            let parent = candidate.deletingLastPathComponent()
            if parent.path == candidate.path { break }
            candidate = parent
        }
        return nil
    }

    /// The preset for a demo short name, nil for other names.
    public func preset(named name: String) -> ModelPreset? {
        presets.first { $0.id == name }
    }

    /// The folder of demo model `name`, or `ModelLoadError.demoModelNotFound` listing where it looked.
    public func folder(for preset: ModelPreset) throws(ModelLoadError) -> URL {
        let folderName = preset.localPath.map { URL(fileURLWithPath: $0).lastPathComponent } ?? preset.id
        for directory in searchDirectories {
            let candidate = directory.appendingPathComponent(folderName, isDirectory: true)
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("config.json").path) {
                return candidate.standardizedFileURL
            }
        }
        throw .demoModelNotFound(name: preset.id, searched: searchDirectories.map(\.path))
    }

    /// The demo model called `name`, nil for other names (`ModelResolver` asks this before the hub).
    public func locate(_ name: String, revision: String?, offline: Bool) async throws(ModelLoadError) -> LocatedModel? {
        guard let preset = preset(named: name) else { return nil }
        return LocatedModel(folder: try folder(for: preset), origin: .source("demo"))
    }
}
