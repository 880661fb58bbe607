import AppServiceHTTP
import Foundation
import Testing
import Yams

/// `asched registration FILE --relay-url URL`: the homeserver's copy is the same registration
/// with `url` pointing at asched's relay, and it loads as a registration.
@Suite struct RegistrationCommandTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/asched").path

    /// The top-level keys and values of `yaml`, as YAML nodes (style and position aside).
    static func mapping(_ yaml: String) throws -> [String: Node] {
        let root = try #require(try Yams.compose(yaml: yaml)?.mapping)
        return Dictionary(uniqueKeysWithValues: root.map { (try! #require($0.key.string), $0.value) })
    }

    @Test(arguments: [("registration-irc.yaml", "http://127.0.0.1:8448", "irc"),
                      ("registration-slack.yaml", "https://asched.internal:8448/proxy/", "slack")])
    func theCopyIsTheSameRegistrationPointingAtTheRelay(file: String, relayURL: String, id: String) throws {
        let path = Self.fixtures + "/" + file
        let outcome = try AschedBinary.run(["registration", path, "--relay-url", relayURL])
        #expect(outcome.status == 0, "\(outcome.standardError)")
        var expectedURL = relayURL
        while expectedURL.hasSuffix("/") { expectedURL.removeLast() }
        expectedURL += "/_asched/v1/relay/\(id)"

        let original = try Self.mapping(String(contentsOfFile: path, encoding: .utf8))
        let copy = try Self.mapping(outcome.standardOutput)
        #expect(Set(copy.keys) == Set(original.keys))
        #expect(copy["url"]?.string == expectedURL)
        for (key, value) in original where key != "url" {
            #expect(copy[key] == value, "\(key) changed")
        }

        let written = FileManager.default.temporaryDirectory.appendingPathComponent("relay-\(UUID().uuidString).yaml").path
        defer { try? FileManager.default.removeItem(atPath: written) }
        try outcome.standardOutput.write(toFile: written, atomically: true, encoding: .utf8)
        // The copy is the homeserver's: listed in asched's own registrations it would loop
        // deliveries into the relay, so asched refuses it, naming the file.
        #expect {
            try Registration.load(path: written)
        } throws: { error in
            "\(error)".contains(written) && "\(error)".contains("asched relay address")
        }
        let again = try AschedBinary.run(["registration", written, "--relay-url", relayURL])
        #expect(again.status != 0 && again.standardError.contains("asched relay address"), "\(again.standardError)")
    }

    @Test(arguments: ["ftp://127.0.0.1:8448", "127.0.0.1:8448", "http://", "http://127.0.0.1:8448/?x=1"])
    func aRelayURLThatIsNotHTTPIsRefusedByName(relayURL: String) throws {
        let outcome = try AschedBinary.run(["registration", Self.fixtures + "/registration-irc.yaml", "--relay-url", relayURL])
        #expect(outcome.status != 0)
        #expect(outcome.standardError.contains("--relay-url \"\(relayURL)\" is not an http or https URL"), "\(outcome.standardError)")
        #expect(outcome.standardOutput.isEmpty)
    }

    @Test func aFileThatIsNotARegistrationIsRefusedWithItsName() throws {
        let outcome = try AschedBinary.run(["registration", Self.fixtures + "/asched.yaml", "--relay-url", "http://127.0.0.1:8448"])
        #expect(outcome.status != 0)
        #expect(outcome.standardError.contains("asched.yaml"), "\(outcome.standardError)")
        #expect(outcome.standardOutput.isEmpty)
    }

    @Test func helpExplainsTheCommand() throws {
        let help = try AschedBinary.run(["registration", "--help"])
        #expect(help.status == 0)
        #expect(help.standardOutput.contains("--relay-url"))
        #expect(help.standardOutput.contains("/_asched/v1/relay/{id}"))
        #expect(help.standardOutput.contains("app_service_config_files"))
    }
}
