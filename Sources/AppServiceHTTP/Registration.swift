import AppServiceScheduler
import Foundation
import Yams

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
/// empty), `receive_ephemeral` (body key `ephemeral`), MSC2409's `de.sorunome.msc2409.push_ephemeral`
/// (body key `de.sorunome.msc2409.ephemeral`), `receive_to_device` or `de.sorunome.msc2409.push_to_device`
/// (to-device messages, also on whenever either ephemeral flag is, as Synapse decides),
/// `org.matrix.msc3202` (MSC3202's device lists and key counts), `rate_limited`. Other keys, such as
/// `protocols` or `io.element.msc4512.*`, are accepted and ignored as Synapse ignores what it does not use.
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
    /// `receive_ephemeral`: transactions carry ephemeral events under `ephemeral`.
    package let receivesEphemeral: Bool
    /// `de.sorunome.msc2409.push_ephemeral`: transactions carry ephemeral events under
    /// `de.sorunome.msc2409.ephemeral` (both keys when both flags are set, as Synapse sends them).
    package let receivesUnstableEphemeral: Bool
    /// Whether transactions carry to-device messages: `receive_to_device` or
    /// `de.sorunome.msc2409.push_to_device`, or either ephemeral flag (Synapse sends
    /// `de.sorunome.msc2409.to_device` whenever one is set).
    package let receivesToDevice: Bool
    /// `org.matrix.msc3202`: transactions carry MSC3202's device lists and one-time key counts.
    package let receivesDeviceData: Bool
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
        // The homeserver's copy listed here would make asched deliver into its own relay, forever.
        guard !url.path.contains(RelayAuthentication.pathPrefix) else {
            throw mapping.invalid("url", "\"\(urlText)\" is an asched relay address; list the bridge's own registration "
                                  + "here (its url is the bridge), and give the relay copy to the homeserver")
        }
        self.url = url
        asToken = try mapping.requiredString("as_token")
        hsToken = try mapping.requiredString("hs_token")
        senderLocalpart = try mapping.requiredString("sender_localpart")
        let namespaces = try mapping.mapping("namespaces")
        userNamespaces = try Self.namespaces("users", in: namespaces)
        aliasNamespaces = try Self.namespaces("aliases", in: namespaces)
        roomNamespaces = try Self.namespaces("rooms", in: namespaces)
        // The two ephemeral flags name different body keys, so they stay apart; to-device follows
        // either of them, as in Synapse's `ApplicationServiceApi.push_bulk`.
        receivesEphemeral = try mapping.bool("receive_ephemeral") == true
        receivesUnstableEphemeral = try mapping.bool("de.sorunome.msc2409.push_ephemeral") == true
        let toDevice = [try mapping.bool("receive_to_device"), try mapping.bool("de.sorunome.msc2409.push_to_device")]
        receivesToDevice = toDevice.contains(true) || receivesEphemeral || receivesUnstableEphemeral
        receivesDeviceData = try mapping.bool("org.matrix.msc3202") == true
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

    /// Where a homeserver reaches this service through asched at `relayURL` (asched's own
    /// address, `http://HOST:PORT`, or a reverse proxy's with a path prefix):
    /// `{relayURL}/_asched/v1/relay/{id}`, trailing slashes of `relayURL` dropped.
    package func relayBase(at relayURL: URL) -> String {
        var base = relayURL.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        return base + RelayAuthentication.pathPrefix + (id.addingPercentEncoding(withAllowedCharacters: Self.segmentAllowed) ?? id)
    }

    /// A path segment's characters: a `/` in an id must not start another segment.
    private static let segmentAllowed = CharacterSet.urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))

    /// The homeserver's copy of the registration file at `path`, for `app_service_config_files`
    /// when asched at `relayURL` stands in front of the service: the same keys and values in the
    /// same order, `url` set to ``relayBase(at:)``. Comments are not kept. Throws as
    /// ``load(path:)`` does when the file is not a valid registration.
    ///
    /// ```swift
    /// print(try Registration.homeserverCopy(path: "irc.yaml", relayURL: URL(string: "http://127.0.0.1:8448")!))
    /// // id: irc
    /// // url: http://127.0.0.1:8448/_asched/v1/relay/irc
    /// // …
    /// ```
    package static func homeserverCopy(path: String, relayURL: URL) throws(ConfigurationError) -> String {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw .unreadable(file: path, reason: (error as NSError).localizedDescription)
        }
        let registration = try Registration(yaml: text, file: path)
        do {
            // Parsing the registration above already proved the text a mapping with a `url`.
            guard case .mapping(let mapping)? = try Yams.compose(yaml: text) else {
                throw ConfigurationError.malformed(file: path, reason: "the top level must be a mapping of keys to values")
            }
            let pairs = mapping.map { key, value in
                key.scalar?.string == "url" ? (key, Node(registration.relayBase(at: relayURL))) : (key, value)
            }
            // width -1: regexes and tokens stay on one line, as written.
            return try Yams.serialize(node: .mapping(Node.Mapping(pairs, mapping.tag, mapping.style)),
                                      width: -1, allowUnicode: true)
        } catch let error as ConfigurationError {
            throw error
        } catch {
            throw .malformed(file: path, reason: "cannot write the homeserver's copy: \(type(of: error))")
        }
    }

    /// The scheduler's view of the service.
    package var descriptor: ServiceDescriptor {
        ServiceDescriptor(id: id, receivesEphemeral: receivesEphemeral, receivesToDevice: receivesToDevice,
                          receivesUnstableEphemeral: receivesUnstableEphemeral, receivesDeviceData: receivesDeviceData)
    }

    /// Whether `other` says what this registration says, whichever file either came from: a
    /// reload reports the services whose registration changed.
    package func sameSettings(as other: Registration) -> Bool {
        id == other.id && url == other.url && asToken == other.asToken && hsToken == other.hsToken
            && senderLocalpart == other.senderLocalpart && userNamespaces == other.userNamespaces
            && aliasNamespaces == other.aliasNamespaces && roomNamespaces == other.roomNamespaces
            && receivesEphemeral == other.receivesEphemeral && receivesUnstableEphemeral == other.receivesUnstableEphemeral
            && receivesToDevice == other.receivesToDevice && receivesDeviceData == other.receivesDeviceData
            && rateLimited == other.rateLimited
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
            "receivesEphemeral": receivesEphemeral, "receivesUnstableEphemeral": receivesUnstableEphemeral,
            "receivesToDevice": receivesToDevice, "receivesDeviceData": receivesDeviceData, "file": file,
        ])
    }
}
