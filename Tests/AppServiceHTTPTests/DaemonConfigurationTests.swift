import AppServiceHTTP
import AppServiceScheduler
import Foundation
import Testing

struct DaemonConfigurationTests {
    /// Parses `yaml` as if it were a file in the fixtures directory.
    func parse(_ yaml: String) throws -> DaemonConfiguration {
        try DaemonConfiguration(yaml: yaml, file: Fixtures.path("inline.yaml"))
    }

    func error(_ yaml: String) -> String? {
        errorText { _ = try parse(yaml) }
    }

    @Test func parsesTheFixtureUsingEveryKey() throws {
        let configuration = try DaemonConfiguration.load(path: Fixtures.path("asched.yaml"))
        #expect(configuration.dataDirectory == Fixtures.path("asched-data"))
        #expect(configuration.listenHost == "127.0.0.1" && configuration.listenPort == 8448)
        #expect(configuration.listensOnLoopback)
        #expect(configuration.ingestToken == "ingest_example_3f9c2a71d6b84e05" && configuration.ingestTokenFile == nil)
        #expect(configuration.tlsCertificatePath == nil && configuration.tlsKeyPath == nil, "left empty: plain HTTP")
        #expect(configuration.metricsListen?.host == "127.0.0.1" && configuration.metricsListen?.port == 9448)
        #expect(configuration.file == Fixtures.path("asched.yaml"))
        #expect(configuration.syncPolicy == .interval(.milliseconds(5)))
        #expect(configuration.segmentSizeBytes == 16 << 20)
        #expect(configuration.compression == .lz4(thresholdBytes: 128))
        #expect(configuration.limits.eventsMax == 50 && configuration.limits.ephemeralMax == 25)
        #expect(configuration.limits.toDeviceMax == 10)
        #expect(configuration.backoff.initial == .milliseconds(500) && configuration.backoff.maximum == .seconds(300))
        #expect(configuration.bodyBytesMax == 2 << 20)
        #expect(configuration.relayBodyBytesMax == 24 << 20)
        #expect(configuration.sendTimeout == .seconds(10))
        #expect(configuration.registrations.map(\.id) == ["irc", "slack"])
        #expect(configuration.registrations.map(\.file) == [Fixtures.path("registration-irc.yaml"), Fixtures.path("registration-slack.yaml")])
        // irc asks for ephemeral events (unstable name), which brings to-device messages, as in Synapse.
        #expect(configuration.serviceDescriptors.map(\.receivesToDevice) == [true, true])
        #expect(configuration.serviceDescriptors.map(\.receivesUnstableEphemeral) == [true, false])
        #expect(configuration.router.registrations.count == 2)

        let scheduler = configuration.schedulerConfiguration
        #expect(scheduler.limits == configuration.limits && scheduler.backoff == configuration.backoff)
        #expect(scheduler.log.segmentSizeBytes == 16 << 20)
        #expect(scheduler.log.syncPolicy == .interval(.milliseconds(5)))
        #expect(scheduler.log.compression == .lz4(thresholdBytes: 128))
        #expect(scheduler.log.recordBytesMax > 24 << 20, "a relayed transaction is one record")
    }

    @Test func noFileMeansDefaults() throws {
        let configuration = try DaemonConfiguration.load(path: nil)
        #expect(configuration.dataDirectory == "./asched-data")
        #expect(configuration.listenHost == "127.0.0.1" && configuration.listenPort == 8448)
        #expect(configuration.ingestToken == nil)
        #expect(configuration.syncPolicy == .always)
        #expect(configuration.segmentSizeBytes == 64 << 20)
        #expect(configuration.compression == .lz4(thresholdBytes: 128))
        #expect(configuration.limits.eventsMax == 100 && configuration.limits.ephemeralMax == 100)
        #expect(configuration.limits.toDeviceMax == 100)
        #expect(configuration.backoff == BackoffPolicy())
        #expect(configuration.bodyBytesMax == 1 << 20)
        #expect(configuration.relayBodyBytesMax == 32 << 20 && configuration.relayBytesInFlightMax == 64 << 20)
        #expect(configuration.registrations.isEmpty && configuration.serviceDescriptors.isEmpty)
    }

    @Test(arguments: ["", "# nothing set\n", "fsync:\ncompression: ~\n"])
    func missingKeysTakeDefaults(yaml: String) throws {
        let configuration = try parse(yaml)
        let defaults = DaemonConfiguration()
        #expect(configuration.dataDirectory == Fixtures.path("asched-data"), "relative to the file")
        #expect(configuration.listenPort == defaults.listenPort && configuration.syncPolicy == defaults.syncPolicy)
        #expect(configuration.segmentSizeBytes == defaults.segmentSizeBytes && configuration.compression == defaults.compression)
        #expect(configuration.limits == defaults.limits && configuration.backoff == defaults.backoff)
        #expect(configuration.bodyBytesMax == defaults.bodyBytesMax && configuration.ingestToken == nil)
    }

    @Test(arguments: [("4096", 4096), ("4KiB", 4096), ("64MiB", 64 << 20), ("1GiB", 1 << 30), ("'8192'", 8192)])
    func sizes(text: String, bytes: Int) throws {
        #expect(try parse("segment_size: \(text)").segmentSizeBytes == bytes)
    }

    @Test(arguments: ["64MB", "64 MiB", "64mib", "1.5MiB", "-4096", "+4096", "0x1000", "MiB", "''", "[1]", "99999999999999999GiB"])
    func badSizes(text: String) {
        #expect(error("segment_size: \(text)")?.hasPrefix(Fixtures.path("inline.yaml") + ": segment_size: ") == true)
    }

    @Test func sizesOutOfRange() throws {
        #expect(error("segment_size: 1KiB")?.contains("out of range") == true)
        #expect(error("segment_size: 8GiB")?.contains("out of range") == true)
        #expect(error("max_body_size: 17MiB")?.contains("max_body_size: 17MiB is out of range") == true)
        #expect(try parse("max_body_size: 16MiB").bodyBytesMax == 16 << 20)
        #expect(error("max_relay_body_size: 57MiB")?.contains("max_relay_body_size: 57MiB is out of range") == true)
        #expect(error("max_relay_body_size: 1000KiB")?.contains("out of range") == true)
    }

    /// The log's record bound follows the relay's body limit, never below the log's default (which
    /// `max_body_size` relies on) and never past the frame format's 64 MiB, up to the largest limit.
    @Test(arguments: ["1MiB", "16MiB", "32MiB", "56MiB"])
    func theRecordBoundFitsTheRelayLimit(text: String) throws {
        let configuration = try parse("max_relay_body_size: \(text)")
        let recordBytesMax = configuration.schedulerConfiguration.log.recordBytesMax
        #expect(recordBytesMax > configuration.relayBodyBytesMax && recordBytesMax >= 16 << 20)
        #expect(recordBytesMax <= 64 << 20)
    }

    @Test(arguments: [("250ms", Duration.milliseconds(250)), ("2s", .seconds(2)), ("8m", .seconds(480))])
    func durations(text: String, duration: Duration) throws {
        #expect(try parse("backoff_initial: \(text)\nbackoff_max: 1000m").backoff.initial == duration)
        #expect(try parse("fsync: interval \(text)").syncPolicy == .interval(duration))
    }

    @Test(arguments: ["2", "2 s", "1.5s", "0s", "2h", "-1s", "2S", "s", "1000000000s"])
    func badDurations(text: String) {
        #expect(error("backoff_max: '\(text)'")?.contains("backoff_max: \"\(text)\" is not a duration") == true)
    }

    @Test func backoffInitialMustNotExceedMaximum() {
        #expect(error("backoff_initial: 10m\nbackoff_max: 30s")?.contains("backoff_initial: ") == true)
    }

    @Test(arguments: ["5ms", "interval", "interval 0ms", "interval  5ms", "Always", "sometimes", "interval 5"])
    func badSyncPolicies(text: String) {
        #expect(error("fsync: \(text)")?.contains("fsync: \"\(text)\" is not a sync policy") == true)
    }

    @Test func syncPolicies() throws {
        #expect(try parse("fsync: never").syncPolicy == .never)
        #expect(try parse("fsync: always").syncPolicy == .always)
        #expect(try parse("compression: none").compression == .none)
        #expect(error("compression: zstd") == Fixtures.path("inline.yaml") + #": compression: "zstd" is not lz4 or none"#)
    }

    @Test func listenAddresses() throws {
        let ipv6 = try parse("listen: '[::1]:9000'")
        #expect(ipv6.listenHost == "::1" && ipv6.listenPort == 9000 && ipv6.listensOnLoopback)
        #expect(try parse("listen: localhost:0").listensOnLoopback)
        #expect(try parse("listen: 127.1.2.3:80").listensOnLoopback)
        let open = try parse("listen: 0.0.0.0:8448\ningest_token: t0ken")
        #expect(!open.listensOnLoopback && open.ingestToken == "t0ken")
        for bad in ["8448", "host:", "::1:8448", "host:70000", "[::1]", "a b:1"] {
            #expect(error("listen: '\(bad)'")?.contains("listen: \"\(bad)\" is not host:port") == true, "\(bad)")
        }
    }

    @Test func nonLoopbackListenNeedsAToken() {
        #expect(throws: ConfigurationError.missingKey(file: Fixtures.path("inline.yaml"), key: "ingest_token",
                                                       reason: "required because listen (0.0.0.0) is not a loopback address")) {
            try parse("listen: 0.0.0.0:8448")
        }
    }

    @Test(arguments: ["0", "-1", "ten", "1.5"])
    func badCaps(text: String) {
        #expect(error("max_to_device_per_transaction: \(text)")?.contains("max_to_device_per_transaction: \"\(text)\" is not a whole number") == true)
    }

    @Test func unknownKeyIsAnError() {
        #expect(throws: ConfigurationError.unknownKey(file: Fixtures.path("inline.yaml"), key: "segment_sise")) {
            try parse("segment_size: 1MiB\nsegment_sise: 2MiB")
        }
        #expect(error("[1, 2]") == Fixtures.path("inline.yaml") + ": the top level must be a mapping of keys to values")
    }

    @Test func badRegexInARegistrationNamesItsFileAndEntry() throws {
        let bad = "id: bad\nurl: http://127.0.0.1:9003\nas_token: a\nhs_token: h\nsender_localpart: bad\n"
            + "namespaces:\n  rooms:\n    - {regex: '!ok', exclusive: true}\n    - {regex: '(unclosed', exclusive: true}\n"
        let directory = try Fixtures.scratchDirectory(files: ["asched.yaml": "registrations: [regs/bad.yaml]\n", "regs/bad.yaml": bad])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(throws: ConfigurationError.invalidRegex(file: directory + "/regs/bad.yaml", namespace: "rooms", index: 1,
                                                         reason: #""(unclosed" is not a valid regular expression"#)) {
            try DaemonConfiguration.load(path: directory + "/asched.yaml")
        }
    }

    @Test func registrationProblems() throws {
        let directory = try Fixtures.scratchDirectory(files: [
            "twice.yaml": "registrations:\n  - \(Fixtures.path("registration-irc.yaml"))\n  - \(Fixtures.path("registration-irc.yaml"))\n",
            "missing.yaml": "registrations: [nowhere.yaml]\n",
        ])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let twice = errorText { _ = try DaemonConfiguration.load(path: directory + "/twice.yaml") }
        #expect(twice?.hasPrefix(directory + "/twice.yaml: registrations[1]: service id \"irc\" is already registered") == true, "\(twice ?? "")")
        let missing = errorText { _ = try DaemonConfiguration.load(path: directory + "/missing.yaml") }
        #expect(missing?.hasPrefix("\(directory)/missing.yaml: registrations[0]: cannot read \(directory)/nowhere.yaml") == true, "\(missing ?? "")")
    }

    @Test(arguments: ["file_token_value\n", "file_token_value", "file_token_value\r\n", "file_token_value\n\n"])
    func ingestTokenFileHoldsTheTokenOnItsOnlyLine(contents: String) throws {
        let directory = try Fixtures.scratchDirectory(files: ["secrets/token": contents])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let configuration = try DaemonConfiguration(yaml: "listen: 0.0.0.0:8448\ningest_token_file: secrets/token",
                                                    file: directory + "/asched.yaml")
        #expect(configuration.ingestToken == "file_token_value")
        #expect(configuration.ingestTokenFile == directory + "/secrets/token")
    }

    @Test func anUnreadableEmptyOrMultiLineTokenFileIsNamed() throws {
        let directory = try Fixtures.scratchDirectory(files: ["empty": "\n", "two": "secret_line_one\nsecret_line_two\n"])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = directory + "/asched.yaml"
        let missing = errorText { _ = try DaemonConfiguration(yaml: "ingest_token_file: nowhere", file: file) }
        #expect(missing?.hasPrefix("\(file): ingest_token_file: cannot read \(directory)/nowhere") == true, "\(missing ?? "")")
        let empty = errorText { _ = try DaemonConfiguration(yaml: "ingest_token_file: empty", file: file) }
        #expect(empty == "\(file): ingest_token_file: \(directory)/empty is empty; write the token in it")
        let two = errorText { _ = try DaemonConfiguration(yaml: "ingest_token_file: two", file: file) }
        #expect(two == "\(file): ingest_token_file: \(directory)/two holds more than one line; the token must be its only line")
        #expect(two?.contains("secret_line") == false)
    }

    @Test func ingestTokenFromTheEnvironment() throws {
        let environment = [DaemonConfiguration.ingestTokenVariable: "env_token_value"]
        let configuration = try DaemonConfiguration(yaml: "listen: 0.0.0.0:8448", file: Fixtures.path("inline.yaml"), environment: environment)
        #expect(configuration.ingestToken == "env_token_value")
        #expect(try DaemonConfiguration.load(path: nil, environment: environment).ingestToken == "env_token_value")
        #expect(try DaemonConfiguration.load(path: nil, environment: [:]).ingestToken == nil)
        let empty = errorText {
            _ = try DaemonConfiguration(yaml: "", file: Fixtures.path("inline.yaml"), environment: [DaemonConfiguration.ingestTokenVariable: ""])
        }
        #expect(empty == Fixtures.path("inline.yaml") + ": ASCHED_INGEST_TOKEN: is set but empty; unset it or give the token")
    }

    @Test func twoSourcesOfTheTokenConflictNamingBoth() throws {
        let directory = try Fixtures.scratchDirectory(files: ["token": "file_secret_value\n"])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = directory + "/asched.yaml"
        let environment = [DaemonConfiguration.ingestTokenVariable: "env_secret_value"]
        let cases: [(yaml: String, environment: [String: String], expected: String)] = [
            ("ingest_token: yaml_secret_value\ningest_token_file: token", [:],
             "ingest_token: the ingest token is also set by ingest_token_file; keep one of them"),
            ("ingest_token: yaml_secret_value", environment,
             "ingest_token: the ingest token is also set by the environment variable ASCHED_INGEST_TOKEN; keep one of them"),
            ("ingest_token_file: token", environment,
             "ingest_token_file: the ingest token is also set by the environment variable ASCHED_INGEST_TOKEN; keep one of them"),
        ]
        for (yaml, environment, expected) in cases {
            let text = errorText { _ = try DaemonConfiguration(yaml: yaml, file: file, environment: environment) }
            #expect(text == "\(file): \(expected)")
            #expect(text?.contains("secret_value") == false)
        }
    }

    @Test func aReloadComparesEveryKeyButTheRegistrations() throws {
        let before = try parse("max_body_size: 1MiB\nregistrations: [registration-irc.yaml]")
        let after = try parse("max_body_size: 2MiB\nmetrics_listen: 127.0.0.1:9100\nregistrations: [registration-slack.yaml]")
        #expect(before.keysNeedingRestart(toApply: after) == ["metrics_listen", "max_body_size"])
        #expect(before.keysNeedingRestart(toApply: before).isEmpty)
    }

    @Test func ingestTokenStaysOutOfErrors() {
        for yaml in ["ingest_token: [ingest_secret_value]", "ingest_token: \"ingest_secret_value", "ingest_token: ingest_secret_value: x"] {
            let text = error(yaml)
            #expect(text != nil)
            #expect(text?.contains("ingest_secret_value") == false, "\(text ?? "")")
        }
    }
}
