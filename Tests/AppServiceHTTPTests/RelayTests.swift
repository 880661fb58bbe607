import AppServiceHTTP
import AppServiceScheduler
import AppServiceSchedulerTesting
import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import SegmentLog
import ServiceLifecycle
import Synchronization
import Testing

/// An application service on loopback that records every transaction it is sent and answers
/// `200 {}`, or 500 while told to fail. Registrations point at it with a path of their own
/// (`http://127.0.0.1:PORT/{id}`), so one service stands in for several.
final class RecordingService: Sendable {
    struct Received: Sendable {
        let path: String
        let authorization: String?
        let body: [UInt8]

        /// The body as JSON.
        var json: [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:]
        }

        /// The `event_id`s of its `events`, in order.
        var eventIDs: [String] {
            (json["events"] as? [[String: Any]] ?? []).compactMap { $0["event_id"] as? String }
        }
    }

    private let state = Mutex<(received: [Received], failures: Int)>(([], 0))
    private let group: Mutex<ServiceGroup?> = Mutex(nil)
    private let running: Mutex<Task<Void, any Error>?> = Mutex(nil)

    /// Every transaction so far, in arrival order.
    var received: [Received] { state.withLock { $0.received } }

    /// The transactions sent to the registration whose url ends in `/{prefix}`.
    func received(under prefix: String) -> [Received] {
        received.filter { $0.path.hasPrefix("/\(prefix)/") }
    }

    /// The next `count` transactions get a 500.
    func fail(next count: Int) {
        state.withLock { $0.failures = count }
    }

    /// Starts listening on a free loopback port and returns it.
    func start() async -> Int {
        let router = Router()
        router.put("**") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 64 << 20)
            let failing = self.state.withLock { state -> Bool in
                state.received.append(Received(path: request.uri.path, authorization: request.headers[.authorization],
                                               body: Array(buffer: body)))
                guard state.failures > 0 else { return false }
                state.failures -= 1
                return true
            }
            return Response(status: failing ? .internalServerError : .ok, headers: [.contentType: "application/json"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: failing ? #"{"errcode":"M_UNKNOWN"}"# : "{}")))
        }
        let port = ListeningPort()
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { await port.set($0.localAddress?.port ?? 0) })
        let group = ServiceGroup(configuration: .init(services: [app], logger: Logger(label: "recording-service")))
        self.group.withLock { $0 = group }
        running.withLock { $0 = Task { try await group.run() } }
        return await port.value()
    }

    func stop() async throws {
        await group.withLock { $0 }?.triggerGracefulShutdown()
        try await running.withLock { $0 }?.value
    }
}

/// A daemon on a data directory of its own, with registrations pointing at a ``RecordingService``,
/// run as many times as a test needs (a restart is a second run), with an ingest token the relay
/// must not ask for.
struct RelayHarness: Sendable {
    static let ingestToken = "ingest-token-not-for-the-relay"

    let service: RecordingService
    let directory: String
    var configuration: DaemonConfiguration

    /// The hs_token of registration `id`.
    static func hsToken(_ id: String) -> String { "hs_token_of_\(id)" }

    /// Starts the recording service and writes one registration per entry of `registrations`
    /// (id, then extra YAML lines such as `receive_ephemeral: true`).
    static func make(registrations: KeyValuePairs<String, String> = ["bridge": "receive_ephemeral: true"]) async throws -> RelayHarness {
        let service = RecordingService()
        let port = await service.start()
        var files: [String: String] = [:]
        for (id, extra) in registrations {
            files["\(id).yaml"] = """
                id: \(id)
                url: http://127.0.0.1:\(port)/\(id)
                as_token: as_token_of_\(id)
                hs_token: \(hsToken(id))
                sender_localpart: \(id)bot
                namespaces:
                  users: [{regex: "@\(id)_.*", exclusive: true}]
                \(extra)
                """
        }
        let directory = try Fixtures.scratchDirectory(files: files)
        let list = registrations.map { "\($0.key).yaml" }.joined(separator: ", ")
        var configuration = try DaemonConfiguration(yaml: "registrations: [\(list)]", file: directory + "/asched.yaml")
        configuration.dataDirectory = directory + "/data"
        configuration.ingestToken = ingestToken
        configuration.backoff = BackoffPolicy(initial: .milliseconds(20), maximum: .milliseconds(100))
        configuration.sendTimeout = .seconds(5)
        return RelayHarness(service: service, directory: directory, configuration: configuration)
    }

    /// Runs the daemon on the data directory until `body` returns.
    func run(_ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let app = try await Daemon.buildApplication(configuration: configuration, logger: Logger(label: "relay-test"))
        try await app.test(.live, body)
    }

    func tearDown() async throws {
        try await service.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// How a request presents the hs_token.
    enum Credential: Sendable, CustomStringConvertible {
        case none, header(String), query(String)

        var description: String {
            switch self {
            case .none: "no token"
            case .header(let token): "header \(token)"
            case .query(let token): "query \(token)"
            }
        }
    }

    /// `PUT` of a transaction through the relay of `service`, under the current path or the legacy one.
    static func relay(_ client: any TestClientProtocol, service: String = "bridge", txnID: String, body: String,
                      credential: Credential? = nil, legacy: Bool = false) async throws -> TestResponse {
        var uri = "/_asched/v1/relay/\(service)/" + (legacy ? "transactions/" : "_matrix/app/v1/transactions/") + txnID
        var headers: HTTPFields = [.contentType: "application/json"]
        switch credential ?? .header(hsToken(service)) {
        case .none: break
        case .header(let token): headers[.authorization] = "Bearer \(token)"
        case .query(let token): uri += "?access_token=\(token)"
        }
        return try await client.executeRequest(uri: uri, method: .put, headers: headers, body: ByteBuffer(string: body))
    }

    static func json(_ response: TestResponse) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView))) as? [String: Any] ?? [:]
    }

    /// `GET /_asched/v1/services`, by service id.
    static func services(_ client: any TestClientProtocol) async throws -> [String: [String: Any]] {
        let response = try await client.executeRequest(uri: "/_asched/v1/services", method: .get,
                                                       headers: [.authorization: "Bearer \(ingestToken)"], body: nil)
        let services = json(response)["services"] as? [[String: Any]] ?? []
        return Dictionary(uniqueKeysWithValues: services.map { ($0["id"] as? String ?? "", $0) })
    }

    /// The Prometheus text of `GET /metrics`.
    static func metrics(_ client: any TestClientProtocol) async throws -> String {
        let response = try await client.executeRequest(uri: "/metrics", method: .get,
                                                       headers: [.authorization: "Bearer \(ingestToken)"], body: nil)
        return String(buffer: response.body)
    }

    /// Waits until `service` has completed transaction `id` and has nothing pending or queued:
    /// the log then changes only when something new arrives.
    static func waitUntilSettled(_ client: any TestClientProtocol, service: String = "bridge", completed id: Int) async throws {
        try await waitUntil("\(service) completes transaction \(id)") {
            let status = try await services(client)[service] ?? [:]
            return status["last_completed_txn"] as? Int == id && status["pending_txns"] as? Int == 0
                && status["queued_events"] as? Int == 0
        }
    }

    /// The log's records from its replay floor on: what a restart replays.
    func replayedRecords() throws -> [SchedulerRecord] {
        let reader = try LogReader(directory: configuration.dataDirectory)
        var cursor = try reader.records(from: reader.replayFloor)
        var records: [SchedulerRecord] = []
        while let record = try cursor.next() {
            records.append(try SchedulerRecord.decode(typeCode: record.type, payload: record.payload))
        }
        return records
    }

    /// The txn ids of the relayed records the log replays, in order.
    func relayedTransactionIDs() throws -> [String] {
        try replayedRecords().compactMap { record in
            guard case .relayed(_, let transaction, _, _, _) = record else { return nil }
            return transaction
        }
    }

    /// The position of the log's last record (0 for an empty log).
    func lastPosition() throws -> UInt64 {
        var cursor = try LogReader(directory: configuration.dataDirectory).records()
        var last: UInt64 = 0
        while let record = try cursor.next() { last = record.position.rawValue }
        return last
    }

    /// A `m.room.message` event as a homeserver serializes it, `age` ms after it was sent.
    static func event(_ id: String, age: Int = 10, body: String = "hello") -> String {
        #"{"event_id":"\#(id)","type":"m.room.message","room_id":"!room:example.org","sender":"@amy:example.org","#
            + #""origin_server_ts":1700000000000,"content":{"msgtype":"m.text","body":"\#(body)"},"unsigned":{"age":\#(age)}}"#
    }

    /// A transaction body holding `events` (and extra top-level fields, as JSON members).
    static func transaction(_ events: [String], extra: String = "") -> String {
        #"{"events":[\#(events.joined(separator: ","))]"# + (extra.isEmpty ? "" : "," + extra) + "}"
    }
}

/// The relay over real HTTP on loopback, with the real Matrix transport delivering to a real
/// application service: authentication, every outcome of a relayed transaction, bad bodies, the
/// body limit, and the cap on bodies being read at once.
@Suite struct RelayTests {
    typealias Harness = RelayHarness

    /// Each way of presenting a token gets the AS API's answer; only the registration's hs_token
    /// stores anything, and the ingest token is not one.
    @Test func theRelayIsAuthenticatedByTheRegistrationsHSToken() async throws {
        let harness = try await Harness.make(registrations: ["bridge": "", "other": ""])
        let cases: [(Harness.Credential, Int, String?)] = [
            (.none, 401, "M_UNAUTHORIZED"),
            (.header("wrong"), 403, "M_FORBIDDEN"),
            (.query("wrong"), 403, "M_FORBIDDEN"),
            (.header(Harness.ingestToken), 403, "M_FORBIDDEN"),
            (.header(Harness.hsToken("other")), 403, "M_FORBIDDEN"),
            (.header(Harness.hsToken("bridge")), 200, nil),
            (.query(Harness.hsToken("bridge")), 200, nil),
        ]
        try await harness.run { client in
            for (index, (credential, status, errcode)) in cases.enumerated() {
                let body = Harness.transaction([Harness.event("$e\(index)")])
                for legacy in [false, true] {
                    let response = try await Harness.relay(client, txnID: "t\(index)\(legacy)", body: body,
                                                           credential: credential, legacy: legacy)
                    #expect(response.status.code == status, "\(credential), legacy \(legacy)")
                    if let errcode { #expect(Harness.json(response)["errcode"] as? String == errcode, "\(credential)") }
                    #expect(!String(buffer: response.body).contains("hs_token_of"), "a token was echoed")
                }
            }
            let unknown = try await Harness.relay(client, service: "nobody", txnID: "1", body: "{}",
                                                  credential: .header(Harness.hsToken("bridge")))
            #expect(unknown.status == .notFound && Harness.json(unknown)["errcode"] as? String == "M_UNRECOGNIZED")
        }
        #expect(try harness.relayedTransactionIDs() == ["t5false", "t5true", "t6false", "t6true"])
        try await harness.tearDown()
    }

    /// A new transaction is stored, delivered to the service in an asched transaction of its own
    /// numbering with the service's hs_token, and counted.
    @Test func aNewTransactionIsStoredAndDelivered() async throws {
        let harness = try await Harness.make()
        try await harness.run { client in
            let body = Harness.transaction([Harness.event("$a"), Harness.event("$b")],
                                           extra: #""ephemeral":[{"type":"m.typing","room_id":"!room:example.org","content":{"user_ids":[]}}]"#)
            let response = try await Harness.relay(client, txnID: "1234", body: body)
            #expect(response.status == .ok && String(buffer: response.body) == "{}")
            try await Harness.waitUntilSettled(client, completed: 1)
            let status = try await Harness.services(client)["bridge"] ?? [:]
            #expect(status["relay_transactions_received"] as? Int == 1 && status["relay_transactions_deduplicated"] as? Int == 0)
            #expect(status["oldest_queued_age_ms"] as? Int == 0, "nothing is undelivered")
        }
        let received = harness.service.received
        #expect(received.map(\.path) == ["/bridge/_matrix/app/v1/transactions/1"])
        #expect(received.first?.authorization == "Bearer \(Harness.hsToken("bridge"))")
        #expect(received.first?.eventIDs == ["$a", "$b"])
        #expect((received.first?.json["ephemeral"] as? [[String: Any]])?.first?["type"] as? String == "m.typing")
        #expect(try harness.relayedTransactionIDs() == ["1234"])
        try await harness.tearDown()
    }

    /// The transaction id is the path segment percent-decoded: the same id escaped or not is one
    /// transaction, and it is stored decoded.
    @Test func anEscapedTransactionIDIsTheDecodedOne() async throws {
        let harness = try await Harness.make()
        try await harness.run { client in
            let escaped = try await Harness.relay(client, txnID: "m%2E1", body: Harness.transaction([Harness.event("$a", age: 10)]))
            #expect(escaped.status == .ok)
            try await Harness.waitUntilSettled(client, completed: 1)
            let plain = try await Harness.relay(client, txnID: "m.1", body: Harness.transaction([Harness.event("$a", age: 20)]))
            #expect(plain.status == .ok)
            let status = try await Harness.services(client)["bridge"] ?? [:]
            #expect(status["relay_transactions_deduplicated"] as? Int == 1)
        }
        #expect(try harness.relayedTransactionIDs() == ["m.1"])
        try await harness.tearDown()
    }

    /// A retry with the same event ids but rebuilt bytes (`unsigned.age` recomputed, as Synapse
    /// does) writes nothing, on the current and the legacy path, and is counted as a duplicate.
    @Test func aRetryWithRebuiltBytesIsDeduplicated() async throws {
        let harness = try await Harness.make()
        try await harness.run { client in
            let first = try await Harness.relay(client, txnID: "7", body: Harness.transaction([Harness.event("$a", age: 10)]))
            #expect(first.status == .ok)
            try await Harness.waitUntilSettled(client, completed: 1)
            let settled = try harness.lastPosition()
            for legacy in [false, true] {
                let retry = try await Harness.relay(client, txnID: "7", body: Harness.transaction([Harness.event("$a", age: 5000)]),
                                                    legacy: legacy)
                #expect(retry.status == .ok && String(buffer: retry.body) == "{}")
            }
            #expect(try harness.lastPosition() == settled, "a retry wrote to the log")
            let status = try await Harness.services(client)["bridge"] ?? [:]
            #expect(status["relay_transactions_received"] as? Int == 3 && status["relay_transactions_deduplicated"] as? Int == 2)
            let metrics = try await Harness.metrics(client)
            #expect(metrics.contains(#"asched_relay_transactions_total{service="bridge"} 3"#))
            #expect(metrics.contains(#"asched_relay_duplicates_total{service="bridge"} 2"#))
        }
        #expect(harness.service.received.count == 1, "a retry was delivered again")
        #expect(try harness.relayedTransactionIDs() == ["7"])
        try await harness.tearDown()
    }

    /// The same txnId with other event ids is new data (a homeserver that restarted its counter):
    /// stored and delivered.
    @Test func theSameIDWithOtherEventIDsIsNewData() async throws {
        let harness = try await Harness.make()
        try await harness.run { client in
            for event in ["$a", "$b"] {
                let response = try await Harness.relay(client, txnID: "1", body: Harness.transaction([Harness.event(event)]))
                #expect(response.status == .ok)
            }
            try await waitUntil("both events are delivered") { harness.service.received.flatMap(\.eventIDs) == ["$a", "$b"] }
            let status = try await Harness.services(client)["bridge"] ?? [:]
            #expect(status["relay_transactions_received"] as? Int == 2 && status["relay_transactions_deduplicated"] as? Int == 0)
        }
        #expect(try harness.relayedTransactionIDs() == ["1", "1"])
        try await harness.tearDown()
    }

    /// The dedupe window is part of the replayed state: a retry is recognised after a restart,
    /// and after a compaction has dropped the original's record.
    @Test func retriesAreRecognisedAfterARestartAndAfterCompaction() async throws {
        let harness = try await Harness.make()
        let body = Harness.transaction([Harness.event("$a"), Harness.event("$b")])
        try await harness.run { client in
            #expect(try await Harness.relay(client, txnID: "42", body: body).status == .ok)
            try await Harness.waitUntilSettled(client, completed: 1)
        }
        let rebuilt = Harness.transaction([Harness.event("$b", age: 900), Harness.event("$a", age: 900)])
        try await harness.run { client in
            #expect(try await Harness.relay(client, txnID: "42", body: rebuilt).status == .ok)
            let status = try await Harness.services(client)["bridge"] ?? [:]
            #expect(status["relay_transactions_deduplicated"] as? Int == 1, "counted since this daemon started")
        }
        #expect(try harness.relayedTransactionIDs() == ["42"])

        let scheduler = try await AppServiceScheduler.open(
            directory: harness.configuration.dataDirectory, services: harness.configuration.serviceDescriptors,
            transport: ScriptedTransport(), clock: SystemClock(), configuration: harness.configuration.schedulerConfiguration)
        #expect(try await scheduler.compact() != nil)
        try await scheduler.close()
        #expect(try harness.relayedTransactionIDs().isEmpty, "the compaction kept the original's record in the replay")

        try await harness.run { client in
            #expect(try await Harness.relay(client, txnID: "42", body: rebuilt).status == .ok)
            #expect(try await Harness.relay(client, txnID: "43", body: Harness.transaction([Harness.event("$c")])).status == .ok)
            try await Harness.waitUntilSettled(client, completed: 2)
        }
        #expect(harness.service.received.map(\.eventIDs) == [["$a", "$b"], ["$c"]])
        #expect(try harness.relayedTransactionIDs() == ["43"])
        try await harness.tearDown()
    }

    /// A body that is not a transaction is answered 400 and writes nothing; its txnId stays free
    /// for the real transaction.
    @Test func badBodiesLeaveTheLogUnchanged() async throws {
        let harness = try await Harness.make(registrations: ["bridge": "org.matrix.msc3202: true"])
        let bad: [(String, String)] = [
            ("{not json", "M_NOT_JSON"),
            ("", "M_NOT_JSON"),
            (#"["a list"]"#, "M_BAD_JSON"),
            (#"{"events": {"not": "a list"}}"#, "M_BAD_JSON"),
            (#"{"events": [1]}"#, "M_BAD_JSON"),
            (#"{"events": [], "ephemeral": "typing"}"#, "M_BAD_JSON"),
            (#"{"events": [], "de.sorunome.msc2409.ephemeral": [[]]}"#, "M_BAD_JSON"),
            (#"{"events": [], "de.sorunome.msc2409.to_device": [null]}"#, "M_BAD_JSON"),
            (#"{"events": [], "org.matrix.msc3202.device_lists": []}"#, "M_BAD_JSON"),
            (#"{"events": [], "org.matrix.msc3202.device_lists": {"changed": [1]}}"#, "M_BAD_JSON"),
            (#"{"events": [], "org.matrix.msc3202.device_one_time_keys_count": {"@amy:example.org": 5}}"#, "M_BAD_JSON"),
            (#"{"events": [], "org.matrix.msc3202.device_unused_fallback_key_types": "x"}"#, "M_BAD_JSON"),
        ]
        try await harness.run { client in
            for (body, errcode) in bad {
                let response = try await Harness.relay(client, txnID: "9", body: body)
                #expect(response.status == .badRequest, "\(body)")
                #expect(Harness.json(response)["errcode"] as? String == errcode, "\(body)")
            }
            #expect(try harness.lastPosition() == 0, "bad input reached the log")
            let good = try await Harness.relay(client, txnID: "9", body: Harness.transaction([Harness.event("$a")]))
            #expect(good.status == .ok)
            let status = try await Harness.services(client)["bridge"] ?? [:]
            #expect(status["relay_transactions_received"] as? Int == 1)
        }
        #expect(try harness.relayedTransactionIDs() == ["9"])
        try await harness.tearDown()
    }

    /// A body of exactly `max_relay_body_size` is taken; one byte more is 413, whether its length
    /// is declared or it arrives chunked, and writes nothing.
    @Test func bodiesPastTheLimitAre413() async throws {
        var made = try await Harness.make()
        made.configuration.relayBodyBytesMax = 64 << 10
        let harness = made
        let limit = harness.configuration.relayBodyBytesMax
        @Sendable func body(bytes: Int, id: String) -> String {
            let empty = Harness.transaction([Harness.event(id, body: "")])
            return Harness.transaction([Harness.event(id, body: String(repeating: "x", count: bytes - empty.utf8.count))])
        }
        try await harness.run { client in
            let over = try await Harness.relay(client, txnID: "1", body: body(bytes: limit + 1, id: "$over"))
            #expect(over.status == .contentTooLarge && Harness.json(over)["errcode"] as? String == "M_TOO_LARGE")
            #expect((Harness.json(over)["error"] as? String)?.contains("max_relay_body_size") == true)
            let chunked = try await Self.streamedRelay(port: try #require(client.port), txnID: "2",
                                                      chunks: [ByteBuffer(string: body(bytes: limit + 1, id: "$chunked"))],
                                                      declaredBytes: nil)
            #expect(chunked.status.code == 413)
            #expect(try harness.lastPosition() == 0)
            let atLimit = try await Harness.relay(client, txnID: "3", body: body(bytes: limit, id: "$fits"))
            #expect(atLimit.status == .ok)
        }
        #expect(try harness.relayedTransactionIDs() == ["3"])
        try await harness.tearDown()
    }

    /// While one request's declared body holds most of the in-flight cap, a request that would go
    /// past it gets a retryable 503 (and is counted); one that fits still goes through, and once
    /// the first body is read the room comes back.
    @Test func bodiesBeingReadAtOnceAreCapped() async throws {
        var made = try await Harness.make()
        made.configuration.relayBodyBytesMax = 40 << 10
        made.configuration.relayBytesInFlightMax = 64 << 10
        let harness = made
        let slowBody = Array(Harness.transaction([Harness.event("$slow", body: String(repeating: "s", count: 39 << 10))]).utf8)
        try await harness.run { client in
            let port = try #require(client.port)
            let (chunks, feed) = AsyncStream.makeStream(of: ByteBuffer.self)
            feed.yield(ByteBuffer(bytes: slowBody.prefix(100)))
            let slow = Task { try await Self.streamedRelay(port: port, txnID: "slow", chunks: chunks, declaredBytes: slowBody.count) }

            // 30 KiB more would pass 64 KiB while the slow body's 39 KiB are reserved. Its body is
            // not JSON, so before the reservation it gets a 400 and writes nothing.
            let large = "{" + String(repeating: " ", count: 30 << 10)
            try await waitUntil("the slow body is reserved") {
                try await Harness.relay(client, txnID: "large", body: large).status == .serviceUnavailable
            }
            let refused = try await Harness.relay(client, txnID: "large", body: large)
            #expect(Harness.json(refused)["errcode"] as? String == "M_RESOURCE_LIMIT_EXCEEDED")
            #expect((Harness.json(refused)["error"] as? String)?.contains("\(64 << 10) bytes") == true)
            let small = try await Harness.relay(client, txnID: "small", body: Harness.transaction([Harness.event("$small")]))
            #expect(small.status == .ok, "a body that fits beside the slow one")
            // Without a declared length the reservation grows chunk by chunk, up to the cap.
            let chunkedBody = Array(Harness.transaction([Harness.event("$chunked", body: String(repeating: "c", count: 30 << 10))]).utf8)
            let pieces = stride(from: 0, to: chunkedBody.count, by: 4 << 10).map {
                ByteBuffer(bytes: chunkedBody[$0..<min($0 + (4 << 10), chunkedBody.count)])
            }
            let chunked = try await Self.streamedRelay(port: port, txnID: "chunked", chunks: pieces, declaredBytes: nil)
            #expect(chunked.status == .serviceUnavailable)

            feed.yield(ByteBuffer(bytes: slowBody.dropFirst(100)))
            feed.finish()
            #expect(try await slow.value.status == .ok)
            let later = Harness.transaction([Harness.event("$later", body: String(repeating: "l", count: 30 << 10))])
            #expect(try await Harness.relay(client, txnID: "later", body: later).status == .ok, "the slow body's room came back")
            let refusals = RelayVisibilityTests.sample(#"asched_enqueue_refused_total{reason="relay_bytes_in_flight"}"#,
                                                       in: try await Harness.metrics(client))
            #expect((refusals ?? 0) >= 1)
        }
        #expect(Set(try harness.relayedTransactionIDs()) == ["small", "slow", "later"])
        try await harness.tearDown()
    }

    /// A `PUT` whose body the test feeds chunk by chunk: with `declaredBytes` as its
    /// `Content-Length`, else chunked.
    static func streamedRelay(port: Int, txnID: String, chunks: some AsyncSequence<ByteBuffer, Never> & Sendable,
                              declaredBytes: Int?) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: "http://localhost:\(port)/_asched/v1/relay/bridge/_matrix/app/v1/transactions/\(txnID)")
        request.method = .PUT
        request.headers.add(name: "Authorization", value: "Bearer \(Harness.hsToken("bridge"))")
        request.body = .stream(chunks, length: declaredBytes.map { .known(Int64($0)) } ?? .unknown)
        return try await HTTPClient.shared.execute(request, timeout: .seconds(30))
    }

    static func streamedRelay(port: Int, txnID: String, chunks: [ByteBuffer], declaredBytes: Int?) async throws -> HTTPClientResponse {
        let (stream, feed) = AsyncStream.makeStream(of: ByteBuffer.self)
        for chunk in chunks { feed.yield(chunk) }
        feed.finish()
        return try await streamedRelay(port: port, txnID: txnID, chunks: stream, declaredBytes: declaredBytes)
    }

    /// A relayed transaction's ephemeral events, to-device messages and MSC3202 fields reach each
    /// service under the names its registration asks for, as Synapse would name them.
    @Test func fieldsReachEachServiceUnderItsRegistrationsNames() async throws {
        let harness = try await Harness.make(registrations: [
            "stable": "receive_ephemeral: true",
            "unstable": "de.sorunome.msc2409.push_ephemeral: true\norg.matrix.msc3202: true",
            "plain": "",
        ])
        let typing = #"{"type":"m.typing","room_id":"!room:example.org","content":{"user_ids":["@amy:example.org"]}}"#
        let toDevice = #"{"type":"m.room_key_request","sender":"@amy:example.org","to_user_id":"@stable_bob:example.org","to_device_id":"D1","content":{}}"#
        let body = Harness.transaction([Harness.event("$a")], extra: """
            "ephemeral":[\(typing)],"de.sorunome.msc2409.ephemeral":[\(typing)],"de.sorunome.msc2409.to_device":[\(toDevice)],\
            "org.matrix.msc3202.device_lists":{"changed":["@amy:example.org"],"left":[]},\
            "org.matrix.msc3202.device_one_time_key_counts":{"@amy:example.org":{"D1":{"signed_curve25519":50}}},\
            "org.matrix.msc3202.device_unused_fallback_key_types":{"@amy:example.org":{"D1":["signed_curve25519"]}}
            """)
        try await harness.run { client in
            for id in ["stable", "unstable", "plain"] {
                #expect(try await Harness.relay(client, service: id, txnID: "1", body: body).status == .ok)
                try await Harness.waitUntilSettled(client, service: id, completed: 1)
            }
        }
        let stable = try #require(harness.service.received(under: "stable").first).json
        #expect(Set(stable.keys) == ["events", "ephemeral", "de.sorunome.msc2409.to_device"])
        #expect((stable["ephemeral"] as? [Any])?.count == 1, "the same list under both names is stored once")
        #expect((stable["de.sorunome.msc2409.to_device"] as? [[String: Any]])?.first?["to_device_id"] as? String == "D1")

        let unstable = try #require(harness.service.received(under: "unstable").first).json
        #expect(Set(unstable.keys) == [
            "events", "de.sorunome.msc2409.ephemeral", "de.sorunome.msc2409.to_device", "org.matrix.msc3202.device_lists",
            "org.matrix.msc3202.device_one_time_keys_count", "org.matrix.msc3202.device_one_time_key_counts",
            "org.matrix.msc3202.device_unused_fallback_key_types",
        ])
        #expect((unstable["de.sorunome.msc2409.ephemeral"] as? [Any])?.count == 1)
        let counts = unstable["org.matrix.msc3202.device_one_time_keys_count"] as? [String: [String: [String: Int]]]
        #expect(counts?["@amy:example.org"]?["D1"]?["signed_curve25519"] == 50)
        #expect((unstable["org.matrix.msc3202.device_lists"] as? [String: [String]])?["changed"] == ["@amy:example.org"])
        #expect((unstable["org.matrix.msc3202.device_unused_fallback_key_types"] as? [String: [String: [String]]])?["@amy:example.org"]?["D1"]
                == ["signed_curve25519"])

        let plain = try #require(harness.service.received(under: "plain").first).json
        #expect(Set(plain.keys) == ["events"])
        #expect(harness.service.received.allSatisfy { $0.eventIDs == ["$a"] })
        try await harness.tearDown()
    }
}
