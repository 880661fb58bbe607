import Foundation
import Yams

/// A YAML mapping read key by key, so that every error names the file and the key.
///
/// A key with no value (`key:` or `key: ~`) reads as absent and takes its default. Messages
/// never quote a value read through ``string(_:)``: the caller decides whether a value is safe
/// to show, since tokens pass through here.
struct YAMLMapping {
    /// The file the mapping came from, as given by the caller.
    let file: String
    /// Where the mapping sits in the file, such as `namespaces.users[1]`; empty at the top.
    let path: String
    private let entries: [String: Node]

    init(node: Node, file: String, path: String) throws(ConfigurationError) {
        guard case .mapping(let mapping) = node else {
            if path.isEmpty {
                throw .malformed(file: file, reason: "the top level must be a mapping of keys to values")
            }
            throw .invalidValue(file: file, key: path, reason: "must be a mapping of keys to values")
        }
        var entries: [String: Node] = [:]
        for (key, value) in mapping {
            guard case .scalar(let name) = key else {
                throw .malformed(file: file, reason: "a key under \(path.isEmpty ? "the top level" : path) is not a plain string")
            }
            entries[name.string] = value
        }
        self.file = file
        self.path = path
        self.entries = entries
    }

    /// Reads and parses the file at `path`.
    static func load(path: String) throws(ConfigurationError) -> YAMLMapping {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw .unreadable(file: path, reason: (error as NSError).localizedDescription)
        }
        return try parse(yaml: text, file: path)
    }

    /// Parses `yaml`; an empty document is an empty mapping.
    static func parse(yaml: String, file: String) throws(ConfigurationError) -> YAMLMapping {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw .malformed(file: file, reason: Self.reason(error))
        }
        return try YAMLMapping(node: root ?? Node([(Node, Node)]()), file: file, path: "")
    }

    /// Yams' own descriptions quote the offending source line, which may hold a token, so only
    /// the position and the problem are kept.
    private static func reason(_ error: any Error) -> String {
        switch error as? YamlError {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
             .composer(_, let problem, let mark, _):
            return "not valid YAML at line \(mark.line), column \(mark.column): \(problem)"
        case .duplicatedKeysInMapping(let duplicates, let context):
            return "duplicate key \(duplicates.sorted().map { "\"\($0)\"" }.joined(separator: ", ")) near line \(context.mark.line)"
        default:
            return "not valid YAML"
        }
    }

    /// The full key path of `key`, for messages.
    func keyPath(_ key: String) -> String {
        path.isEmpty ? key : "\(path).\(key)"
    }

    func invalid(_ key: String, _ reason: String) -> ConfigurationError {
        .invalidValue(file: file, key: keyPath(key), reason: reason)
    }

    /// Throws on the first key, in sorted order, that is not in `known`.
    func rejectUnknownKeys(_ known: Set<String>) throws(ConfigurationError) {
        if let unknown = entries.keys.sorted().first(where: { !known.contains($0) }) {
            throw .unknownKey(file: file, key: keyPath(unknown))
        }
    }

    private func value(_ key: String) -> Node? {
        guard let node = entries[key], node.null == nil else { return nil }
        return node
    }

    /// The scalar's text as written (`as_token: 0123` stays `"0123"`), or nil when absent.
    func string(_ key: String) throws(ConfigurationError) -> String? {
        guard let node = value(key) else { return nil }
        guard case .scalar(let scalar) = node else { throw invalid(key, "must be a single value, not a list or mapping") }
        return scalar.string
    }

    /// Like ``string(_:)``, but absent or empty is an error.
    func requiredString(_ key: String) throws(ConfigurationError) -> String {
        guard let text = try string(key), !text.isEmpty else {
            throw .missingKey(file: file, key: keyPath(key), reason: "a non-empty string is required")
        }
        return text
    }

    /// A YAML boolean (`true`/`false`, and YAML 1.1's `yes`/`no`/`on`/`off` as Synapse's
    /// PyYAML reads them), or nil when absent.
    func bool(_ key: String) throws(ConfigurationError) -> Bool? {
        guard let node = value(key) else { return nil }
        guard let bool = node.bool else { throw invalid(key, "must be true or false") }
        return bool
    }

    /// The items of a list; absent is empty.
    func list(_ key: String) throws(ConfigurationError) -> [Node] {
        guard let node = value(key) else { return [] }
        guard case .sequence(let sequence) = node else { throw invalid(key, "must be a list") }
        return Array(sequence)
    }

    /// A nested mapping, or nil when absent.
    func mapping(_ key: String) throws(ConfigurationError) -> YAMLMapping? {
        guard let node = value(key) else { return nil }
        return try YAMLMapping(node: node, file: file, path: keyPath(key))
    }
}
