import AppServiceScheduler
import Foundation

/// An application service registration, in the YAML format Synapse reads from
/// `app_service_config_files`, so one file serves both the homeserver and the scheduler.
///
/// ```swift
/// let registration = try Registration.load(path: "/etc/matrix/irc.yaml")
/// print(registration)                  // id, url and namespace counts; never a token
/// let service = registration.descriptor
/// ```
///
/// Required: `id`, `url` (an http or https URL; Synapse allows null, but a service without one
/// cannot be delivered to), `as_token`, `hs_token`, `sender_localpart`. Optional: `namespaces`
/// with `users`, `aliases` and `rooms` lists of `{regex, exclusive}` (each absent list is
/// empty), `receive_ephemeral` (or MSC2409's `de.sorunome.msc2409.push_ephemeral`; either set to true
/// turns it on), `receive_to_device` (or `de.sorunome.msc2409.push_to_device`), `rate_limited`. Other keys,
/// such as `protocols`, are ignored as Synapse ignores what it does not use.
package struct Registration: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The service's id; also its id in the scheduler.
    package let id: String
    /// Where transactions are sent (`PUT {url}/_matrix/app/v1/transactions/{txnId}`).
    package let url: URL
    /// The token the service presents to the homeserver.
    package let asToken: String
    /// The token sent to the service as `Authorization: Bearer`.
    package let hsToken: String
    /// The localpart of the service's own user.
    package let senderLocalpart: String
    /// Regexes over user ids, in file order.
    package let userNamespaces: [Namespace]
    /// Regexes over room aliases, in file order; not used for routing (see ``NamespaceRouter``).
    package let aliasNamespaces: [Namespace]
    /// Regexes over room ids, in file order.
    package let roomNamespaces: [Namespace]
    /// Whether transactions carry ephemeral events; false unless asked for.
    package let receivesEphemeral: Bool
    /// Whether transactions carry to-device messages; false unless asked for.
    package let receivesToDevice: Bool
    /// The registration's `rate_limited`, or nil when it does not say.
    package let rateLimited: Bool?
    /// The file the registration was read from.
    package let file: String

    /// Reads the registration file at `path`.
    package static func load(path: String) throws(ConfigurationError) -> Registration {
        try Registration(mapping: YAMLMapping.load(path: path))
    }

    /// Parses a registration from YAML text; `file` names it in errors.
    package init(yaml: String, file: String) throws(ConfigurationError) {
        try self.init(mapping: YAMLMapping.parse(yaml: yaml, file: file))
    }

    private init(mapping: YAMLMapping) throws(ConfigurationError) {
        id = try mapping.requiredString("id")
        let urlText = try mapping.requiredString("url")
        guard let url = URL(string: urlText), ["http", "https"].contains(url.scheme?.lowercased()),
              url.host?.isEmpty == false else {
            throw mapping.invalid("url", "\"\(urlText)\" is not an http or https URL")
        }
        self.url = url
        asToken = try mapping.requiredString("as_token")
        hsToken = try mapping.requiredString("hs_token")
        senderLocalpart = try mapping.requiredString("sender_localpart")
        let namespaces = try mapping.mapping("namespaces")
        userNamespaces = try Self.namespaces("users", in: namespaces)
        aliasNamespaces = try Self.namespaces("aliases", in: namespaces)
        roomNamespaces = try Self.namespaces("rooms", in: namespaces)
        // Either spelling turns a kind on, so a file written for the MSC keeps working.
        let ephemeral = [try mapping.bool("receive_ephemeral"), try mapping.bool("de.sorunome.msc2409.push_ephemeral")]
        let toDevice = [try mapping.bool("receive_to_device"), try mapping.bool("de.sorunome.msc2409.push_to_device")]
        receivesEphemeral = ephemeral.contains(true)
        receivesToDevice = toDevice.contains(true)
        rateLimited = try mapping.bool("rate_limited")
        file = mapping.file
    }

    private static func namespaces(_ kind: String, in namespaces: YAMLMapping?) throws(ConfigurationError) -> [Namespace] {
        guard let namespaces else { return [] }
        var result: [Namespace] = []
        for (index, node) in try namespaces.list(kind).enumerated() {
            let entry = try YAMLMapping(node: node, file: namespaces.file, path: "namespaces.\(kind)[\(index)]")
            let regex = try entry.requiredString("regex")
            // Synapse rejects an entry without a boolean `exclusive`; so does this.
            guard let exclusive = try entry.bool("exclusive") else {
                throw .missingKey(file: entry.file, key: entry.keyPath("exclusive"), reason: "true or false is required")
            }
            do {
                result.append(try Namespace(regex: regex, exclusive: exclusive))
            } catch {
                throw .invalidRegex(file: entry.file, namespace: kind, index: index,
                                    reason: "\"\(regex)\" is not a valid regular expression")
            }
        }
        return result
    }

    /// The scheduler's view of the service.
    package var descriptor: ServiceDescriptor {
        ServiceDescriptor(id: id, receivesEphemeral: receivesEphemeral, receivesToDevice: receivesToDevice)
    }

    /// The id, URL and namespace counts; tokens are left out so the text is safe to log.
    package var description: String {
        "registration \"\(id)\" (\(file)): \(url.absoluteString), \(userNamespaces.count) user, "
            + "\(aliasNamespaces.count) alias and \(roomNamespaces.count) room namespaces"
    }

    /// Same as ``description``, so `debugPrint` and string interpolation in tests leak no token.
    package var debugDescription: String { description }

    /// Leaves the tokens out of `dump` and debugger views.
    package var customMirror: Mirror {
        Mirror(self, children: [
            "id": id, "url": url, "senderLocalpart": senderLocalpart,
            "userNamespaces": userNamespaces, "aliasNamespaces": aliasNamespaces, "roomNamespaces": roomNamespaces,
            "receivesEphemeral": receivesEphemeral, "receivesToDevice": receivesToDevice, "file": file,
        ])
    }
}
