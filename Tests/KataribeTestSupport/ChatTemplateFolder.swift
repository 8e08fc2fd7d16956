import Foundation

/// A model folder with a chat template, made for a test: the files of a fixture model (symlinks
/// followed) copied into a fresh temporary folder named unlike any preset, with `chat_template`
/// added to its tokenizer_config.json, or written as chat_template.jinja.
public enum ChatTemplateFolder {
    /// `Tests/Fixtures/chat-templates/templates/<name>.jinja`.
    public static func template(_ name: String) throws -> String {
        String(decoding: try Data(contentsOf: TestPaths.fixture("chat-templates/templates/\(name).jinja")), as: UTF8.self)
    }

    /// - Parameters:
    ///   - model: the fixture folder to copy (default: the tiny rinna-style model).
    ///   - chatTemplate: the value of `chat_template` in tokenizer_config.json (a string, or a list of
    ///     `["name": ..., "template": ...]`); nil leaves the key out.
    ///   - jinjaFile: the text of a chat_template.jinja beside it.
    ///   - specialTokens: keys set in tokenizer_config.json (`bos_token`, ...).
    public static func make(model: URL = TestPaths.fixture("generation-e2e/rinna"), chatTemplate: Any? = nil,
                            jinjaFile: String? = nil, specialTokens: [String: String] = [:],
                            name: String = "my-chat-model") throws -> URL {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("kataribe-chat-template-\(UUID().uuidString)")
        let folder = root.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for file in try FileManager.default.contentsOfDirectory(atPath: model.path) {
            let source = model.appendingPathComponent(file).resolvingSymlinksInPath()
            try FileManager.default.copyItem(at: source, to: folder.appendingPathComponent(file))
        }
        let configURL = folder.appendingPathComponent("tokenizer_config.json")
        var config: [String: Any] = [:]
        if let data = try? Data(contentsOf: configURL), let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] {
            config = object
        }
        if let chatTemplate { config["chat_template"] = chatTemplate }
        for (key, value) in specialTokens { config[key] = value }
        try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys]).write(to: configURL)
        if let jinjaFile { try Data(jinjaFile.utf8).write(to: folder.appendingPathComponent("chat_template.jinja")) }
        return folder
    }

    /// Removes what `make` created.
    public static func remove(_ folder: URL) {
        try? FileManager.default.removeItem(at: folder.deletingLastPathComponent())
    }
}
