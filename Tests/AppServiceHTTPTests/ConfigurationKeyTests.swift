@testable import AppServiceHTTP
import AppServiceScheduler
import Foundation
import Testing

/// Everything that lists the configuration keys agrees with ``ConfigurationKey``.
struct ConfigurationKeyTests {
    static let allNames = Set(ConfigurationKey.allCases.map(\.name))

    /// The top-level keys of a YAML file whose keys start their lines.
    static func topLevelKeys(ofYAML text: String) -> Set<String> {
        Set(text.split(separator: "\n").compactMap { line in
            guard let first = line.first, first.isLetter, let colon = line.firstIndex(of: ":") else { return nil }
            return String(line[..<colon])
        })
    }

    /// The first-column key names of the table in `docs/OPERATIONS.md`'s "Configuration keys"
    /// section, one row per key, each name in backticks.
    static func documentedKeys() throws -> [String] {
        let text = try String(contentsOfFile: Fixtures.repository + "/docs/OPERATIONS.md", encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let heading = try #require(lines.firstIndex { $0.hasPrefix("#") && $0.contains("Configuration keys") },
                                   "docs/OPERATIONS.md has no \"Configuration keys\" section")
        let section = lines[(heading + 1)...].prefix { !$0.hasPrefix("#") }
        return section.filter { $0.hasPrefix("| `") }.map { row in
            let cell = row.dropFirst(3)
            return String(cell.prefix { $0 != "`" })
        }
    }

    @Test func theFixtureUsesEveryKey() throws {
        let text = try String(contentsOfFile: Fixtures.path("asched.yaml"), encoding: .utf8)
        #expect(Self.topLevelKeys(ofYAML: text) == Self.allNames)
    }

    @Test func theDocumentationTableListsEachKeyOnce() throws {
        let documented = try Self.documentedKeys()
        #expect(documented.sorted() == Self.allNames.sorted(), "one row per key in docs/OPERATIONS.md")
    }

    @Test func theDocumentationTableStatesEachDefault() throws {
        let text = try String(contentsOfFile: Fixtures.repository + "/docs/OPERATIONS.md", encoding: .utf8)
        for key in ConfigurationKey.allCases {
            let row = text.split(separator: "\n").first { $0.hasPrefix("| `\(key.name)` |") }
            #expect(row?.contains(key.defaultValue) == true, "the row of \(key.name) names its default \(key.defaultValue)")
        }
    }

    @Test func theHelpTextListsEveryKey() {
        let help = ConfigurationKey.helpText
        for key in ConfigurationKey.allCases {
            #expect(help.contains("  \(key.name) (\(key.syntax), default \(key.defaultValue))\n      \(key.summary)"))
        }
        // Argument Parser wraps longer lines at 80 columns, mid-sentence.
        #expect(help.split(separator: "\n").allSatisfy { $0.count < 80 })
    }

    /// Each default, written back into a file, reads as the default: the help text and the
    /// documentation state what the code does.
    /// `advertise_url`'s default names what it is made of, and the key needs `database_url`.
    @Test(arguments: ConfigurationKey.allCases.filter { $0.defaultValue != "none" && $0 != .advertiseURL })
    func writtenDefaultsReadAsTheDefaults(key: ConfigurationKey) throws {
        let configuration = try DaemonConfiguration(yaml: "\(key.name): '\(key.defaultValue)'", file: Fixtures.path("inline.yaml"))
        let defaults = DaemonConfiguration()
        #expect(configuration.listenHost == defaults.listenHost && configuration.listenPort == defaults.listenPort)
        #expect(configuration.syncPolicy == defaults.syncPolicy && configuration.compression == defaults.compression)
        #expect(configuration.segmentSizeBytes == defaults.segmentSizeBytes && configuration.bodyBytesMax == defaults.bodyBytesMax)
        #expect(configuration.limits == defaults.limits && configuration.backoff == defaults.backoff)
        #expect(configuration.sendTimeout == defaults.sendTimeout)
        #expect(configuration.dataDirectory == Fixtures.path("asched-data"))
    }

    @Test func backoffDefaultsAreTheSchedulers() {
        #expect(DaemonConfiguration().backoff == BackoffPolicy())
        #expect(ConfigurationKey.backoffInitial.defaultValue == YAMLMapping.durationText(BackoffPolicy().initial))
        #expect(ConfigurationKey.backoffMax.defaultValue == YAMLMapping.durationText(BackoffPolicy().maximum))
    }

    @Test(arguments: [(Duration.milliseconds(250), "250ms"), (.seconds(2), "2s"), (.seconds(90), "90s"),
                      (.seconds(300), "5m"), (.milliseconds(1500), "1500ms")])
    func durationsAreWrittenAsRead(duration: Duration, text: String) {
        #expect(YAMLMapping.durationText(duration) == text && YAMLMapping.duration(text) == duration)
    }

    @Test(arguments: [(4096, "4KiB"), (64 << 20, "64MiB"), (1 << 30, "1GiB"), (1000, "1000"), (3 << 10, "3KiB")])
    func sizesAreWrittenAsRead(bytes: Int, text: String) {
        #expect(YAMLMapping.sizeText(bytes) == text && YAMLMapping.bytes(text) == bytes)
    }
}
