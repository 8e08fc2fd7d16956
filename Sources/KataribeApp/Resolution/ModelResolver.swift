import Foundation
import KataribeGeneration
import KataribeHub

/// A model name turned into a local folder and the preset that says how to run it.
public struct ResolvedModel: Sendable {
    /// What was asked for (`demo-calm`, `open-calm-7b`, `cyberagent/open-calm-7b`, `./folder`).
    public let name: String
    public let folder: URL
    public let preset: ModelPreset
    /// How the preset was chosen.
    public let presetOrigin: PresetOrigin
    /// How the folder was found (local folder, demo source, hub cache, download).
    public let location: LocatedModel

    public init(name: String, folder: URL, preset: ModelPreset, presetOrigin: PresetOrigin, location: LocatedModel) {
        self.name = name
        self.folder = folder
        self.preset = preset
        self.presetOrigin = presetOrigin
        self.location = location
    }
}

public enum PresetOrigin: String, Sendable, Codable {
    /// Named by the caller (`ModelResolver.resolve(_:preset:)`, `--preset`).
    case requested
    /// The model name is a preset id or its hub repository, or the folder is that repository's.
    case matched
    /// No preset knows the model: settings of the family its tokenizer looks like (see `PresetInference`).
    case inferred
}

/// Resolves model names: a folder as it is; a demo short name through `DemoModelSource`; a preset id
/// through its hub repository; an `ORG/NAME` id through the Hugging Face cache or a download
/// (`ModelLocator`). Any other single word is an unknown model.
public struct ModelResolver: Sendable {
    public var hub: HubClient
    public var demos: DemoModelSource
    public var catalog: [ModelPreset]

    public init(hub: HubClient = HubClient(), demos: DemoModelSource = DemoModelSource(),
                catalog: [ModelPreset] = ModelPresetCatalog.all) {
        self.hub = hub
        self.demos = demos
        self.catalog = catalog
    }

    /// - Parameters:
    ///   - preset: a preset id whose settings (tokenizer, formats, generation defaults) replace the
    ///     matched or inferred ones; the model still comes from `name`.
    ///   - revision: for hub models; nil means `main`.
    ///   - offline: overrides `HF_HUB_OFFLINE` when not nil.
    public func resolve(_ name: String, preset presetName: String? = nil, revision: String? = nil,
                        offline: Bool? = nil, progress: ProgressHandler? = nil) async throws(ModelLoadError) -> ResolvedModel {
        let requested = try presetName.map { name throws(ModelLoadError) in try requestedPreset(name) }
        let catalogPreset = catalog.first { $0.id == name || $0.hubRepoID == name }
        let target = try locatorName(for: name, catalogPreset: catalogPreset)
        let locator = ModelLocator(hub: hub, sources: [demos])
        let location: LocatedModel
        do {
            location = try await locator.resolve(target, revision: revision, offline: offline, progress: progress)
        } catch let error as ModelLoadError {
            throw error
        } catch let error as HubError {
            throw .location(name: name, error: error)
        } catch {
            throw .other(name: name, reason: "\(error)")
        }
        if let requested {
            return ResolvedModel(name: name, folder: location.folder, preset: requested, presetOrigin: .requested, location: location)
        }
        if let matched = catalogPreset ?? matchingPreset(location) {
            return ResolvedModel(name: name, folder: location.folder, preset: matched, presetOrigin: .matched, location: location)
        }
        return ResolvedModel(name: name, folder: location.folder, preset: PresetInference.preset(forFolder: location.folder),
                             presetOrigin: .inferred, location: location)
    }

    /// Demo names and existing folders go to the locator as they are, preset ids as their hub
    /// repository; a single word that is none of these is refused here rather than sent to the hub.
    private func locatorName(for name: String, catalogPreset: ModelPreset?) throws(ModelLoadError) -> String {
        if let catalogPreset {
            if catalogPreset.localPath != nil { return name }
            if let repo = catalogPreset.hubRepoID, !Self.isExistingPath(name) { return repo }
        }
        if Self.isExistingPath(name) || name.contains("/") || name.hasPrefix(".") || name.hasPrefix("~") { return name }
        throw .unknownModel(name: name, demos: demos.presets.map(\.id),
                            presets: catalog.filter { $0.localPath == nil }.map(\.id))
    }

    private func requestedPreset(_ name: String) throws(ModelLoadError) -> ModelPreset {
        guard let preset = catalog.first(where: { $0.id == name || $0.hubRepoID == name }) else {
            throw .unknownPreset(name: name, known: catalog.map(\.id))
        }
        return preset
    }

    /// The preset of a hub repository (by the located repo id, or the cache folder name
    /// `models--ORG--NAME`), or of a folder named like a preset id or repository name.
    func matchingPreset(_ location: LocatedModel) -> ModelPreset? {
        if let repo = location.repo?.rawValue, let preset = catalog.first(where: { $0.hubRepoID == repo }) { return preset }
        for component in location.folder.pathComponents.reversed() {
            if let repo = RepoID(cacheFolderName: component),
               let preset = catalog.first(where: { $0.hubRepoID == repo.rawValue }) { return preset }
        }
        let last = location.folder.lastPathComponent
        return catalog.first { $0.id == last || $0.hubRepoID?.split(separator: "/").last.map(String.init) == last }
    }

    private static func isExistingPath(_ name: String) -> Bool {
        FileManager.default.fileExists(atPath: (name as NSString).expandingTildeInPath)
    }
}
