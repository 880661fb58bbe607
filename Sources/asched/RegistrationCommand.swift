import AppServiceHTTP
import ArgumentParser
import Foundation

/// `asched registration FILE --relay-url URL`: the homeserver's copy of a registration.
struct RegistrationCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "registration",
        abstract: "Print the homeserver's copy of a registration, pointing it at asched's relay.",
        discussion: """
            Puts asched between a homeserver and a bridge. asched keeps reading FILE (list it
            under `registrations` in asched's config) and delivers to the bridge's real url;
            the homeserver gets this copy (list it in Synapse's app_service_config_files
            instead of FILE). The copy has the same keys and values with `url` set to
            asched's relay base for the registration, URL/_asched/v1/relay/{id}, so the
            homeserver pushes its transactions to asched, which stores them durably before
            answering, and asks asched its user and alias queries, which asched forwards to
            the bridge. Comments are not copied. Both sides keep the same tokens.

            URL is asched's own address as the homeserver reaches it: http://HOST:PORT of
            its `listen` (https with tls_certificate, or a reverse proxy's URL, path prefix
            included). A trailing slash is ignored.

            Examples:
              asched registration /etc/matrix/irc.yaml --relay-url http://127.0.0.1:8448 > /etc/synapse/irc-relay.yaml
              asched registration slack.yaml --relay-url https://asched.internal:8448/
            """)

    @Argument(help: "The registration file the bridge generated (the one asched reads).")
    var file: String

    @Option(help: "asched's address as the homeserver reaches it, such as http://127.0.0.1:8448.")
    var relayURL: String

    func validate() throws {
        _ = try Self.parseRelayURL(relayURL)
    }

    func run() throws {
        print(try Registration.homeserverCopy(path: file, relayURL: Self.parseRelayURL(relayURL)), terminator: "")
    }

    /// `text` as an http or https URL with a host and neither query nor fragment.
    static func parseRelayURL(_ text: String) throws -> URL {
        guard let url = URL(string: text), ["http", "https"].contains(url.scheme?.lowercased()),
              url.host?.isEmpty == false, url.query == nil, url.fragment == nil else {
            throw ValidationError(
                "--relay-url \"\(text)\" is not an http or https URL of asched (such as http://127.0.0.1:8448)")
        }
        return url
    }
}
