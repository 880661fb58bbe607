import AppServiceHTTP
import AsyncHTTPClient
import Foundation
import Testing

/// A configuration file on disk whose registrations a test edits, a ``RecordingService`` they
/// point at, and the daemon reading them with a ``RegistrationReloader``, over real HTTP.
struct ReloadHarness {
    static let ingestToken = "reload-test-ingest-token"

    let service: RecordingService
    let servicePort: Int
    let directory: String
    let reloader = RegistrationReloader(environment: [:])

    var file: String { directory + "/asched.yaml" }

    static func make() async throws -> ReloadHarness {
        let service = RecordingService()
        let port = await service.start()
        return ReloadHarness(service: service, servicePort: port, directory: try Fixtures.scratchDirectory(files: [:]))
    }

    /// Writes registration `id`, pointing at the recording service under `/{path}`.
    func register(_ id: String, path: String? = nil, hsToken: String? = nil) throws {
        try """
            id: \(id)
            url: http://127.0.0.1:\(servicePort)/\(path ?? id)
            as_token: as_token_of_\(id)
            hs_token: \(hsToken ?? "hs_token_of_\(id)")
            sender_localpart: \(id)bot
            namespaces:
              users: [{regex: "@\(id)_.*", exclusive: true}]
            """.write(toFile: "\(directory)/\(id).yaml", atomically: true, encoding: .utf8)
    }

    /// Writes the configuration file listing `ids`' registrations, and `extra` lines.
    func configure(_ ids: [String], extra: String = "") throws {
        try """
            data_dir: data
            listen: 127.0.0.1:0
            ingest_token: \(Self.ingestToken)
            backoff_initial: 20ms
            backoff_max: 100ms
            send_timeout: 5s
            registrations: [\(ids.map { "\($0).yaml" }.joined(separator: ", "))]
            \(extra)
            """.write(toFile: file, atomically: true, encoding: .utf8)
    }

    /// Runs the daemon of the configuration file until `body` returns.
    func run(_ body: (LiveDaemon, HTTPClient) async throws -> Void) async throws {
        try await LiveDaemon.run(try DaemonConfiguration.load(path: file, environment: [:]), reloader: reloader, body)
        try await service.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    static func enqueue(_ client: HTTPClient, _ daemon: LiveDaemon, to id: String, number: Int) async throws -> HTTPAnswer {
        try await client.answer(.POST, "http://127.0.0.1:\(daemon.port)/_asched/v1/services/\(id)/enqueue", bearer: ingestToken,
                                body: #"{"events": [{"type": "m.room.message", "event_id": "$\#(number)"}]}"#)
    }

    /// A transaction pushed through the relay of `id` with `hsToken`.
    static func relay(_ client: HTTPClient, _ daemon: LiveDaemon, to id: String, hsToken: String, txnID: String) async throws -> HTTPAnswer {
        try await client.answer(.PUT, "http://127.0.0.1:\(daemon.port)/_asched/v1/relay/\(id)/_matrix/app/v1/transactions/\(txnID)",
                                bearer: hsToken, body: #"{"events": [{"type": "m.room.message", "event_id": "$r\#(txnID)"}]}"#)
    }
}

/// SIGHUP's reload, driven through ``RegistrationReloader/reload()``: each case over real HTTP.
@Suite struct ReloadTests {
    @Test func aNewBridgeStartsReceiving() async throws {
        let harness = try await ReloadHarness.make()
        try harness.register("irc")
        try harness.register("slack")
        try harness.configure(["irc"])
        try await harness.run { daemon, client in
            #expect(try await ReloadHarness.enqueue(client, daemon, to: "slack", number: 1).status == 404)
            #expect(try await ReloadHarness.relay(client, daemon, to: "slack", hsToken: "hs_token_of_slack", txnID: "1").status == 404)
            try harness.configure(["irc", "slack"])
            let report = try await harness.reloader.reload()
            #expect(report == RegistrationReloader.Report(added: ["slack"]))
            #expect(try await ReloadHarness.enqueue(client, daemon, to: "slack", number: 2).status == 200)
            #expect(try await ReloadHarness.relay(client, daemon, to: "slack", hsToken: "hs_token_of_slack", txnID: "1").status == 200)
            try await waitUntil("slack receives both") {
                harness.service.received(under: "slack").flatMap(\.eventIDs).sorted() == ["$2", "$r1"]
            }
            #expect(harness.service.received(under: "slack").allSatisfy { $0.authorization == "Bearer hs_token_of_slack" })
        }
    }

    @Test func aChangedURLAndHSTokenApplyToTheNextAttemptAndRequest() async throws {
        let harness = try await ReloadHarness.make()
        try harness.register("irc")
        try harness.configure(["irc"])
        try await harness.run { daemon, client in
            #expect(try await ReloadHarness.enqueue(client, daemon, to: "irc", number: 1).status == 200)
            try await waitUntil("irc receives $1") { harness.service.received(under: "irc").count == 1 }
            try harness.register("irc", path: "irc-moved", hsToken: "new_hs_token")
            #expect(try await harness.reloader.reload() == RegistrationReloader.Report(changed: ["irc"]))
            #expect(try await ReloadHarness.enqueue(client, daemon, to: "irc", number: 2).status == 200)
            try await waitUntil("irc-moved receives $2") { harness.service.received(under: "irc-moved").count == 1 }
            let moved = try #require(harness.service.received(under: "irc-moved").first)
            #expect(moved.authorization == "Bearer new_hs_token" && moved.eventIDs == ["$2"])
            #expect(moved.path == "/irc-moved/_matrix/app/v1/transactions/2")
            #expect(harness.service.received(under: "irc").count == 1, "nothing more to the old url")
            // The relay takes the new hs_token only, and forwarding goes to the new url.
            #expect(try await ReloadHarness.relay(client, daemon, to: "irc", hsToken: "hs_token_of_irc", txnID: "7").status == 403)
            #expect(try await ReloadHarness.relay(client, daemon, to: "irc", hsToken: "new_hs_token", txnID: "7").status == 200)
            let forwarded = try await client.answer(.PUT, "http://127.0.0.1:\(daemon.port)/_asched/v1/relay/irc/_matrix/app/v1/other",
                                                    bearer: "new_hs_token", body: "{}")
            #expect(forwarded.status == 200)
            #expect(harness.service.received(under: "irc-moved").contains { $0.path == "/irc-moved/_matrix/app/v1/other" })
        }
    }

    @Test func aRemovedBridgeIsNoLongerSentToAndItsRoutesAnswer404() async throws {
        let harness = try await ReloadHarness.make()
        try harness.register("irc")
        try harness.register("slack")
        try harness.configure(["irc", "slack"])
        try await harness.run { daemon, client in
            harness.service.fail(next: 1_000_000)
            #expect(try await ReloadHarness.enqueue(client, daemon, to: "slack", number: 1).status == 200)
            try await waitUntil("slack is retried") { harness.service.received(under: "slack").count >= 3 }
            try harness.configure(["irc"])
            #expect(try await harness.reloader.reload() == RegistrationReloader.Report(removed: ["slack"]))
            // An attempt under way at the reload finishes; after it, none.
            try await Task.sleep(for: .milliseconds(200))
            let attempts = harness.service.received(under: "slack").count
            try await Task.sleep(for: .milliseconds(500))
            #expect(harness.service.received(under: "slack").count == attempts, "the backoff is 100 ms at most")
            harness.service.fail(next: 0)

            let relayed = try await ReloadHarness.relay(client, daemon, to: "slack", hsToken: "hs_token_of_slack", txnID: "1")
            #expect(relayed.status == 404 && relayed.json["errcode"] as? String == "M_UNRECOGNIZED")
            let forwarded = try await client.answer(.GET, "http://127.0.0.1:\(daemon.port)/_asched/v1/relay/slack/_matrix/app/v1/users/@slack_a:x",
                                                    bearer: "hs_token_of_slack")
            #expect(forwarded.status == 404 && forwarded.json["errcode"] as? String == "M_UNRECOGNIZED")
            #expect(try await ReloadHarness.enqueue(client, daemon, to: "slack", number: 2).status == 404)
            // Its state stays in the log: the pending transaction is still listed.
            let services = try await client.answer(.GET, "http://127.0.0.1:\(daemon.port)/_asched/v1/services",
                                                   bearer: ReloadHarness.ingestToken).json["services"] as? [[String: Any]] ?? []
            let slack = try #require(services.first { $0["id"] as? String == "slack" })
            #expect(slack["pending_txns"] as? Int == 1 && slack["state"] as? String == "down")
            #expect(try await ReloadHarness.enqueue(client, daemon, to: "irc", number: 3).status == 200)
        }
    }

    @Test func anInvalidConfigurationIsRefusedAndTheOldOneStays() async throws {
        let harness = try await ReloadHarness.make()
        try harness.register("irc")
        try harness.configure(["irc"])
        try await harness.run { daemon, client in
            try harness.configure(["irc", "missing"])
            let missing = await #expect(throws: ConfigurationError.self) { try await harness.reloader.reload() }
            #expect(missing.map { "\($0)" }?.contains("\(harness.directory)/missing.yaml") == true)
            try "registrations: [irc.yaml".write(toFile: harness.file, atomically: true, encoding: .utf8)
            await #expect(throws: ConfigurationError.self) { try await harness.reloader.reload() }
            try harness.register("irc", hsToken: "")
            try harness.configure(["irc"])
            await #expect(throws: ConfigurationError.self) { try await harness.reloader.reload() }
            // The registration in force is the first one, hs_token and all.
            #expect(try await ReloadHarness.relay(client, daemon, to: "irc", hsToken: "hs_token_of_irc", txnID: "1").status == 200)
            #expect(try await ReloadHarness.enqueue(client, daemon, to: "irc", number: 2).status == 200)
            try await waitUntil("irc receives both") { harness.service.received(under: "irc").flatMap(\.eventIDs).count == 2 }
            #expect(harness.service.received(under: "irc").allSatisfy { $0.authorization == "Bearer hs_token_of_irc" })
        }
    }

    @Test func otherChangedKeysAreReportedAsNeedingARestart() async throws {
        let harness = try await ReloadHarness.make()
        try harness.register("irc")
        try harness.register("slack")
        try harness.configure(["irc"])
        try await harness.run { daemon, client in
            try harness.configure(["irc", "slack"], extra: "max_body_size: 2MiB\nsegment_size: 1MiB")
            let report = try await harness.reloader.reload()
            #expect(report == RegistrationReloader.Report(added: ["slack"], needingRestart: ["segment_size", "max_body_size"]))
            #expect(try await ReloadHarness.enqueue(client, daemon, to: "slack", number: 1).status == 200)
            // Reported again until a restart puts them in force.
            #expect(try await harness.reloader.reload().needingRestart == ["segment_size", "max_body_size"])
        }
    }

    @Test func aDaemonWithoutAFileHasNothingToReload() async throws {
        let reloader = RegistrationReloader(environment: [:])
        await #expect(throws: RegistrationReloader.ReloadError.self) { try await reloader.reload() }
    }
}
