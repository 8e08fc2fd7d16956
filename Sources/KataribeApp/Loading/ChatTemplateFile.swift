import Foundation
import KataribeGeneration
import KataribeSupport
import KataribeTemplates

/// A model folder's chat template, found where transformers looks for it: `chat_template.jinja`
/// beside the tokenizer (transformers 4.43+ saves it there, and it wins), else the `chat_template` of
/// `tokenizer_config.json` — a string, or a list of `{"name", "template"}` of which `apply_chat_template`
/// uses the one named "default". The named special tokens (`bos_token`, `eos_token`, ...) the template
/// sees come from `tokenizer_config.json`, then `special_tokens_map.json` for those it leaves unset.
public enum ChatTemplateFile {
    /// tokenizer_config.json can list thousands of added tokens; the template itself is small.
    static let configLimit = 64 << 20
    static let templateLimit = 4 << 20

    /// The named special tokens transformers passes to templates (`SPECIAL_TOKENS_ATTRIBUTES`).
    static let specialTokenNames = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"]

    /// The folder's template as a prompt format; nil when it has none.
    public static func format(folder: URL, fixedNow: Date? = nil) throws(ChatTemplateFileError) -> ChatTemplateFormat? {
        guard let (source, origin) = try templateSource(folder: folder) else { return nil }
        let tokens = try specialTokens(folder: folder)
        let template: ChatTemplate
        do {
            template = try ChatTemplate(source: source, specialTokens: tokens)
        } catch {
            throw .template(file: origin.path, error: error)
        }
        do {
            return try ChatTemplateFormat(template: template, origin: origin.lastPathComponent, fixedNow: fixedNow)
        } catch {
            throw .unusable(file: origin.path, reason: error.description)
        }
    }

    /// The template text and the file it came from.
    static func templateSource(folder: URL) throws(ChatTemplateFileError) -> (String, URL)? {
        let jinja = folder.appendingPathComponent("chat_template.jinja")
        if FileManager.default.fileExists(atPath: jinja.path) {
            let data: Data
            do { data = try UntrustedFile.data(jinja, limit: templateLimit) } catch { throw .unreadable(error) }
            guard let text = String(data: data, encoding: .utf8) else { throw .invalid(file: jinja.path, reason: "not UTF-8") }
            return (text, jinja)
        }
        let configURL = folder.appendingPathComponent("tokenizer_config.json")
        guard let config = try readJSONObject(configURL) else { return nil }
        switch config["chat_template"] {
        case nil, is NSNull:
            return nil
        case let text as String:
            return (text, configURL)
        case let list as [Any]:
            var named: [String: String] = [:]
            for entry in list {
                guard let entry = entry as? [String: Any], let name = entry["name"] as? String,
                      let template = entry["template"] as? String else {
                    throw .invalid(file: configURL.path, reason: "chat_template: expected a list of {\"name\", \"template\"}")
                }
                named[name] = template
            }
            guard let template = named["default"] else {
                throw .invalid(file: configURL.path, reason: "chat_template has several templates and none is named \"default\" ("
                               + named.keys.sorted().map { UntrustedText.quoted($0, limit: 40) }.joined(separator: ", ") + ")")
            }
            return (template, configURL)
        default:
            throw .invalid(file: configURL.path, reason: "chat_template: expected a string or a list of named templates")
        }
    }

    static func specialTokens(folder: URL) throws(ChatTemplateFileError) -> [String: String] {
        var tokens: [String: String] = [:]
        for file in ["tokenizer_config.json", "special_tokens_map.json"] {
            let url = folder.appendingPathComponent(file)
            guard let object = try readJSONObject(url) else { continue }
            for name in specialTokenNames where tokens[name] == nil {
                switch object[name] {
                case let text as String: tokens[name] = text
                // An AddedToken written out: {"content": "<s>", "lstrip": false, ...}.
                case let token as [String: Any]:
                    if let content = token["content"] as? String { tokens[name] = content }
                default: break
                }
            }
        }
        return tokens
    }

    private static func readJSONObject(_ url: URL) throws(ChatTemplateFileError) -> [String: Any]? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let data: Data
        do { data = try UntrustedFile.data(url, limit: configLimit) } catch { throw .unreadable(error) }
        guard let json = try? JSONSerialization.jsonObject(with: data), let object = json as? [String: Any] else {
            throw .invalid(file: url.path, reason: "not a JSON object")
        }
        return object
    }
}

/// Why a model folder's chat template cannot be used.
public enum ChatTemplateFileError: Error, CustomStringConvertible, Sendable {
    case unreadable(UntrustedFileError)
    case invalid(file: String, reason: String)
    /// The template is not one the interpreter reads (syntax it does not support, nesting too deep...).
    case template(file: String, error: TemplateError)
    /// It parses but cannot render even a single user message.
    case unusable(file: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(error): return error.description
        case let .invalid(file, reason): return "\(file): \(reason)"
        case let .template(file, error): return "\(file): \(error.description)"
        case let .unusable(_, reason): return reason
        }
    }
}
