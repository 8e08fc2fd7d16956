import Foundation
import KataribeHub

/// A model name turned into a local folder and the preset that says how to run it.
public struct ResolvedModel: Sendable {
    /// What was asked for (`demo-calm`, `open-calm-7b`, `cyberagent/open-calm-7b`, `./folder`).
    public let name: String
    public let folder: URL
    public let preset: ModelPreset
    /// How the preset was chosen.
    public let presetOrigin: PresetOrigin
    /// How the folder was found (local folder, demo model, hub cache, download).
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
    /// Named by the caller (`ModelResolver.resolve(_:preset:)`, `--preset`, a suite's `preset:`).
    case requested
    /// The model name is a preset id or its hub repository, or the folder is that repository's.
    case matched
    /// No preset knows the model: settings of the family its tokenizer looks like (see `PresetInference`).
    case inferred
}

/// What a model name stands for, decided from the name and the file system alone (no network).
public enum ModelReference: Sendable, Equatable {
    /// A folder: an existing path, or a name written as a path (`/`, `./`, `../`, `~`) that may be missing.
    case folder(String)
    /// One of the project's demo models (`DemoModelSource`).
    case demo(ModelPreset)
    /// A Hugging Face repository, with its preset when the catalog knows the repository.
    case hub(repo: String, preset: ModelPreset?)
}

/// The one place that turns model names into folders and presets, for every command and for compare:
/// a folder as it is; a demo short name through `DemoModelSource`; a preset id through its hub
/// repository; an `ORG/NAME` id through the Hugging Face cache or a download (`ModelLocator`). Any other
/// single word is an unknown model (rather than a request to the hub).
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

    /// What `name` refers to. An existing path wins over a preset or demo of the same name, so a
    /// local copy in the current folder is used as it is.
    public func reference(for name: String) throws(ModelLoadError) -> ModelReference {
        if Self.isExistingPath(name) { return .folder(name) }
        if let preset = catalogPreset(named: name) {
            if preset.localPath != nil { return .demo(preset) }
            if let repo = preset.hubRepoID { return .hub(repo: repo, preset: preset) }
        }
        if ModelLocator.looksLikePath(name) || name.hasPrefix(".") { return .folder(name) }
        if name.contains("/") { return .hub(repo: name, preset: nil) }
        throw .unknownModel(name: name, demos: demos.presets.map(\.id),
                            presets: catalog.filter { $0.localPath == nil }.map(\.id))
    }

    /// The folder `name` stands for, without choosing a preset (commands that need only the weights).
    /// - Parameters:
    ///   - revision: for hub models; nil means `main`.
    ///   - offline: overrides `HF_HUB_OFFLINE` when not nil.
    public func locate(_ name: String, revision: String? = nil, offline: Bool? = nil,
                       progress: ProgressHandler? = nil) async throws(ModelLoadError) -> LocatedModel {
        try await locate(name, reference: reference(for: name), revision: revision, offline: offline, progress: progress)
    }

    /// - Parameters:
    ///   - preset: a preset id whose settings (tokenizer, formats, generation defaults) replace the
    ///     matched or inferred ones; the model still comes from `name`.
    ///   - revision: for hub models; nil means `main`.
    ///   - offline: overrides `HF_HUB_OFFLINE` when not nil.
    public func resolve(_ name: String, preset presetName: String? = nil, revision: String? = nil,
                        offline: Bool? = nil, progress: ProgressHandler? = nil) async throws(ModelLoadError) -> ResolvedModel {
        let requested = try presetName.map { id throws(ModelLoadError) in try requestedPreset(id) }
        let reference = try reference(for: name)
        let location = try await locate(name, reference: reference, revision: revision, offline: offline, progress: progress)
        let (preset, origin) = choosePreset(requested: requested, reference: reference, location: location)
        return ResolvedModel(name: name, folder: location.folder, preset: preset, presetOrigin: origin, location: location)
    }

    /// The preset `resolve` would choose, decided before anything is downloaded (suites are planned,
    /// and their cell keys computed, before any model loads). Nil for a hub repository the catalog does
    /// not know, and for a missing folder no preset is named like: only the files could tell.
    public func plannedPreset(for name: String, preset presetName: String? = nil) throws(ModelLoadError) -> (preset: ModelPreset, origin: PresetOrigin)? {
        if let presetName { return (try requestedPreset(presetName), .requested) }
        switch try reference(for: name) {
        case .demo(let preset):
            return (preset, .matched)
        case .hub(_, let preset):
            return preset.map { ($0, .matched) }
        case .folder(let path):
            let folder = URL(fileURLWithPath: (path as NSString).expandingTildeInPath).standardizedFileURL
            if GGUFModelFile.isGGUF(folder) {
                guard Self.isExistingPath(path) else { return nil }
                return (GGUFModelFile.preset(file: folder), .inferred)
            }
            if let preset = matchingPreset(folder: folder, repo: nil) { return (preset, .matched) }
            guard Self.isExistingPath(path) else { return nil }
            return (PresetInference.preset(forFolder: folder), .inferred)
        }
    }

    /// The catalog preset whose id or hub repository is `name`.
    public func catalogPreset(named name: String) -> ModelPreset? {
        catalog.first { $0.id == name || $0.hubRepoID == name }
    }

    /// `--preset ID` / `preset: ID`: a preset id or its hub repository.
    public func requestedPreset(_ name: String) throws(ModelLoadError) -> ModelPreset {
        guard let preset = catalogPreset(named: name) else {
            throw .unknownPreset(name: name, known: catalog.map(\.id))
        }
        return preset
    }

    /// The preset of a hub repository (by the located repo id, or the cache folder name
    /// `models--ORG--NAME`), or of a folder named like a preset id or repository name.
    public func matchingPreset(folder: URL, repo: RepoID?) -> ModelPreset? {
        if let repo = repo?.rawValue, let preset = catalog.first(where: { $0.hubRepoID == repo }) { return preset }
        for component in folder.pathComponents.reversed() {
            if let repo = RepoID(cacheFolderName: component),
               let preset = catalog.first(where: { $0.hubRepoID == repo.rawValue }) { return preset }
        }
        let last = folder.lastPathComponent
        return catalog.first { $0.id == last || $0.hubRepoID?.split(separator: "/").last.map(String.init) == last }
    }

    private func choosePreset(requested: ModelPreset?, reference: ModelReference,
                              location: LocatedModel) -> (ModelPreset, PresetOrigin) {
        if let requested { return (requested, .requested) }
        switch reference {
        case .demo(let preset), .hub(_, let preset?): return (preset, .matched)
        case .hub(_, nil), .folder: break
        }
        if GGUFModelFile.isGGUF(location.folder) { return (GGUFModelFile.preset(file: location.folder), .inferred) }
        if let matched = matchingPreset(folder: location.folder, repo: location.repo) { return (matched, .matched) }
        return (PresetInference.preset(forFolder: location.folder), .inferred)
    }

    private func locate(_ name: String, reference: ModelReference, revision: String?, offline: Bool?,
                        progress: ProgressHandler?) async throws(ModelLoadError) -> LocatedModel {
        let target: String
        switch reference {
        case .demo(let preset):
            return LocatedModel(folder: try demos.folder(for: preset), origin: .source("demo"))
        case .folder(let path):
            // A GGUF file stands where a folder would: the model is the one file.
            let expanded = (path as NSString).expandingTildeInPath
            if GGUFModelFile.isGGUF(URL(fileURLWithPath: expanded)) {
                guard FileManager.default.fileExists(atPath: expanded) else {
                    throw .location(name: name, error: HubError.localPathNotFound(path))
                }
                return LocatedModel(folder: URL(fileURLWithPath: expanded).standardizedFileURL, origin: .localFolder)
            }
            target = path
        case .hub(let repo, _): target = repo
        }
        do {
            return try await ModelLocator(hub: hub).resolve(target, revision: revision, offline: offline, progress: progress)
        } catch let error as HubError {
            throw .location(name: name, error: error)
        } catch {
            throw .other(name: name, reason: "\(error)")
        }
    }

    private static func isExistingPath(_ name: String) -> Bool {
        FileManager.default.fileExists(atPath: (name as NSString).expandingTildeInPath)
    }
}
