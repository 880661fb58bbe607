import AppServiceHTTP
import AppServiceScheduler
import Foundation
import Testing

struct RegistrationTests {
    static let minimal = """
        id: bot
        url: http://127.0.0.1:9009
        as_token: as_minimal_secret
        hs_token: hs_minimal_secret
        sender_localpart: bot

        """

    @Test func parsesTheIRCFixture() throws {
        let irc = try Registration.load(path: Fixtures.path("registration-irc.yaml"))
        #expect(irc.id == "irc")
        #expect(irc.url.absoluteString == "http://127.0.0.1:9001")
        #expect(irc.asToken == "as_irc_b7d1e0c94f2a4e3c8d61")
        #expect(irc.hsToken == "hs_irc_5e2f8a1c07d94b6aa3f0")
        #expect(irc.senderLocalpart == "appservice-irc")
        #expect(irc.userNamespaces.map(\.regex) == [#"@irc_.*:example\.org"#, #"@ircwatch_.*:example\.org"#])
        #expect(irc.userNamespaces.map(\.exclusive) == [true, false])
        #expect(irc.aliasNamespaces.count == 1)
        #expect(irc.roomNamespaces.isEmpty)
        #expect(irc.receivesUnstableEphemeral, "de.sorunome.msc2409.push_ephemeral turns the unstable ephemeral field on")
        #expect(!irc.receivesEphemeral, "receive_ephemeral names another body key")
        #expect(irc.receivesToDevice, "either ephemeral flag turns to-device on, as in Synapse")
        #expect(!irc.receivesDeviceData)
        #expect(irc.rateLimited == false)
        #expect(irc.file == Fixtures.path("registration-irc.yaml"))
        #expect(irc.descriptor == ServiceDescriptor(id: "irc", receivesToDevice: true, receivesUnstableEphemeral: true))
    }

    @Test func parsesTheSlackFixture() throws {
        let slack = try Registration.load(path: Fixtures.path("registration-slack.yaml"))
        #expect(slack.id == "slack")
        #expect(slack.url.absoluteString == "http://127.0.0.1:9002/")
        #expect(slack.userNamespaces.count == 1 && slack.roomNamespaces.count == 1)
        #expect(slack.aliasNamespaces.isEmpty)
        #expect(slack.receivesEphemeral && slack.receivesToDevice)
        #expect(!slack.receivesUnstableEphemeral && !slack.receivesDeviceData)
        #expect(slack.rateLimited == nil)
    }

    /// Each flag, as Synapse reads it: the two ephemeral flags name different body keys, either
    /// one brings to-device messages, and MSC3202 has its own.
    @Test(arguments: [
        ("receive_ephemeral: true", ServiceDescriptor(id: "bot", receivesEphemeral: true, receivesToDevice: true)),
        ("de.sorunome.msc2409.push_ephemeral: true",
         ServiceDescriptor(id: "bot", receivesToDevice: true, receivesUnstableEphemeral: true)),
        ("receive_ephemeral: true\nde.sorunome.msc2409.push_ephemeral: true",
         ServiceDescriptor(id: "bot", receivesEphemeral: true, receivesToDevice: true, receivesUnstableEphemeral: true)),
        ("receive_to_device: true", ServiceDescriptor(id: "bot", receivesToDevice: true)),
        ("de.sorunome.msc2409.push_to_device: true", ServiceDescriptor(id: "bot", receivesToDevice: true)),
        ("receive_ephemeral: false\nreceive_to_device: false", ServiceDescriptor(id: "bot")),
        ("org.matrix.msc3202: true", ServiceDescriptor(id: "bot", receivesDeviceData: true)),
        ("org.matrix.msc3202: false", ServiceDescriptor(id: "bot")),
    ] as [(String, ServiceDescriptor)])
    func flagsBecomeTheDescriptor(flags: String, descriptor: ServiceDescriptor) throws {
        let registration = try Registration(yaml: Self.minimal + flags + "\n", file: "r.yaml")
        #expect(registration.descriptor == descriptor)
        #expect(registration.receivesEphemeral == descriptor.receivesEphemeral)
        #expect(registration.receivesUnstableEphemeral == descriptor.receivesUnstableEphemeral)
        #expect(registration.receivesToDevice == descriptor.receivesToDevice)
        #expect(registration.receivesDeviceData == descriptor.receivesDeviceData)
    }

    /// The relay base ends with the id as one path segment, whatever the id holds.
    @Test(arguments: [("http://127.0.0.1:8448", "bot", "http://127.0.0.1:8448/_asched/v1/relay/bot"),
                      ("https://proxy.example/asched//", "bot", "https://proxy.example/asched/_asched/v1/relay/bot"),
                      ("http://[::1]:8448/", "a/b c%", "http://[::1]:8448/_asched/v1/relay/a%2Fb%20c%25")])
    func relayBaseAppendsTheRelayPath(relayURL: String, id: String, base: String) throws {
        let yaml = Self.minimal.replacingOccurrences(of: "id: bot", with: "id: '\(id)'")
        let registration = try Registration(yaml: yaml, file: "r.yaml")
        #expect(registration.relayBase(at: try #require(URL(string: relayURL))) == base)
    }

    /// Keys of MSCs asched does not know are accepted, whatever their shape.
    /// The homeserver's relay copy listed in asched's own config would loop deliveries into the relay.
    @Test func aRelayCopyIsRefusedWithTheReason() throws {
        let yaml = Self.minimal.replacingOccurrences(of: "url: http://127.0.0.1:9009",
                                                     with: "url: http://127.0.0.1:8448/_asched/v1/relay/bot")
        #expect {
            try Registration(yaml: yaml, file: "bot.relay.yaml")
        } throws: { error in
            "\(error)".contains("bot.relay.yaml") && "\(error)".contains("asched relay address")
        }
    }

    @Test func unknownKeysAreAccepted() throws {
        let yaml = Self.minimal + """
            io.element.msc4512.enabled: true
            io.element.msc4512:
              devices: [{id: ABC}]
            protocols: [irc]

            """
        let registration = try Registration(yaml: yaml, file: "r.yaml")
        #expect(registration.descriptor == ServiceDescriptor(id: "bot"))
    }

    @Test func optionalKeysDefaultToEmptyAndFalse() throws {
        let registration = try Registration(yaml: Self.minimal, file: "minimal.yaml")
        #expect(registration.userNamespaces.isEmpty && registration.aliasNamespaces.isEmpty)
        #expect(registration.roomNamespaces.isEmpty)
        #expect(!registration.receivesEphemeral && !registration.receivesToDevice)
        #expect(registration.rateLimited == nil)
    }

    @Test(arguments: ["id", "url", "as_token", "hs_token", "sender_localpart"])
    func requiredKeyMissing(key: String) {
        let yaml = Self.minimal.split(separator: "\n").filter { !$0.hasPrefix(key + ":") }.joined(separator: "\n")
        #expect(throws: ConfigurationError.missingKey(file: "r.yaml", key: key, reason: "a non-empty string is required")) {
            try Registration(yaml: yaml, file: "r.yaml")
        }
    }

    @Test(arguments: ["ftp://127.0.0.1/x", "127.0.0.1:9001", "http://", "not a url"])
    func urlMustBeHTTP(url: String) {
        let yaml = Self.minimal.replacingOccurrences(of: "http://127.0.0.1:9009", with: "'\(url)'")
        let error = errorText { _ = try Registration(yaml: yaml, file: "r.yaml") }
        #expect(error?.hasPrefix("r.yaml: url: ") == true, "\(error ?? "no error")")
    }

    @Test func badRegexNamesTheFileAndTheEntry() {
        let yaml = Self.minimal + """
            namespaces:
              users:
                - {regex: '@fine_.*', exclusive: true}
                - {regex: '@broken_[', exclusive: false}
            """
        let error = errorText { _ = try Registration(yaml: yaml, file: "/etc/bad.yaml") }
        #expect(error == #"/etc/bad.yaml: namespaces.users[1].regex: "@broken_[" is not a valid regular expression"#)
    }

    @Test func namespaceEntryNeedsExclusive() {
        let yaml = Self.minimal + "namespaces:\n  rooms:\n    - regex: '!a.*'\n"
        #expect(throws: ConfigurationError.missingKey(file: "r.yaml", key: "namespaces.rooms[0].exclusive",
                                                       reason: "true or false is required")) {
            try Registration(yaml: yaml, file: "r.yaml")
        }
    }

    @Test func matchingIsAnchoredAtTheStartOnly() throws {
        let yaml = Self.minimal + "namespaces:\n  users:\n    - {regex: '@irc_', exclusive: true}\n"
        let namespace = try #require(try Registration(yaml: yaml, file: "r.yaml").userNamespaces.first)
        #expect(namespace.matches("@irc_alice:example.org"), "the end need not match, as with re.match")
        #expect(!namespace.matches("@x@irc_alice:example.org"), "the start must match")
    }

    @Test func tokensStayOutOfDescriptions() throws {
        let irc = try Registration.load(path: Fixtures.path("registration-irc.yaml"))
        var dumped = ""
        dump(irc, to: &dumped)
        for text in [String(describing: irc), String(reflecting: irc), "\(irc)", dumped] {
            #expect(text.contains("irc"))
            #expect(!text.contains(irc.asToken) && !text.contains(irc.hsToken))
        }
    }

    @Test func tokensStayOutOfErrors() {
        let cases = [
            Self.minimal.replacingOccurrences(of: "hs_minimal_secret", with: "[hs_minimal_secret]"),
            Self.minimal.replacingOccurrences(of: "as_minimal_secret", with: "\"as_minimal_secret"),
            Self.minimal.replacingOccurrences(of: "as_minimal_secret", with: "as_minimal_secret: : ["),
        ]
        for yaml in cases {
            let error = errorText { _ = try Registration(yaml: yaml, file: "r.yaml") }
            #expect(error != nil)
            #expect(error?.contains("minimal_secret") == false, "\(error ?? "")")
        }
    }
}
