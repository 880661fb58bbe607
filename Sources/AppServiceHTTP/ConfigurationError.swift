/// Why a daemon configuration or an application service registration cannot be used.
///
/// Every case names the file and, where there is one, the key (a dotted path such as
/// `namespaces.users[1].regex` inside a registration). No message ever repeats the value of
/// `as_token`, `hs_token` or `ingest_token`.
///
/// ```swift
/// do {
///     let configuration = try DaemonConfiguration.load(path: "/etc/asched.yaml")
/// } catch {
///     print(error)   // "/etc/asched.yaml: segment_size: "64MB" is not a size; …"
/// }
/// ```
package enum ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file cannot be read (missing, unreadable or not UTF-8).
    case unreadable(file: String, reason: String)
    /// The file is not valid YAML, or its top level is not a mapping of keys to values.
    case malformed(file: String, reason: String)
    /// A key the daemon configuration does not know; most often a misspelt one.
    case unknownKey(file: String, key: String)
    /// A required key is absent, or has no value.
    case missingKey(file: String, key: String, reason: String)
    /// A key's value has the wrong type, syntax or range.
    case invalidValue(file: String, key: String, reason: String)
    /// A registration's namespace regex does not compile; `index` counts from 0 within the
    /// `namespace` list (`users`, `aliases` or `rooms`).
    case invalidRegex(file: String, namespace: String, index: Int, reason: String)

    /// The file, the key and what is wrong, in one line fit for a log or a terminal.
    package var description: String {
        switch self {
        case .unreadable(let file, let reason):
            return "cannot read \(file): \(reason)"
        case .malformed(let file, let reason):
            return "\(file): \(reason)"
        case .unknownKey(let file, let key):
            return "\(file): unknown key \"\(key)\"; fix its spelling or remove it"
        case .missingKey(let file, let key, let reason):
            return "\(file): \(key) is missing: \(reason)"
        case .invalidValue(let file, let key, let reason):
            return "\(file): \(key): \(reason)"
        case .invalidRegex(let file, let namespace, let index, let reason):
            return "\(file): namespaces.\(namespace)[\(index)].regex: \(reason)"
        }
    }
}
