import AppServiceHTTP
import AppServiceScheduler
import AppServiceSchedulerTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import SegmentLog
import Testing

/// The HTTP API over real HTTP on loopback (Hummingbird's live test client): every answer, and
/// every kind of bad input leaving the log untouched.
@Suite struct HTTPAPITests {
    static let token = "ingest-secret-token"

    struct Harness {
        let configuration: DaemonConfiguration
        let transport = ScriptedTransport()

        init(token: String? = HTTPAPITests.token, bodyBytesMax: Int = 4096, availableBytesMin: Int? = nil,
             registrations: [String] = [Fixtures.path("registration-irc.yaml"), Fixtures.path("registration-slack.yaml")]) throws {
            var configuration = try DaemonConfiguration(yaml: """
                registrations: [\(registrations.map { "\"\($0)\"" }.joined(separator: ", "))]
                """, file: "/tmp/test.yaml")
            configuration.dataDirectory = FileManager.default.temporaryDirectory.path + "/asched-api-" + UUID().uuidString
            configuration.ingestToken = token
            configuration.bodyBytesMax = bodyBytesMax
            configuration.segmentSizeBytes = 64 << 10
            if let availableBytesMin { configuration.availableBytesMin = availableBytesMin }
            self.configuration = configuration
        }

        func records() throws -> Int {
            var cursor = try LogReader(directory: configuration.dataDirectory).records()
            var count = 0
            while try cursor.next() != nil { count += 1 }
            return count
        }

        /// Runs `body` against the API of a daemon on a fresh log, over a real loopback connection.
        func test(_ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
            let app = try await Daemon.buildApplication(configuration: configuration, logger: .init(label: "test"),
                                                        transport: transport, clock: ManualClock())
            try await app.test(.live, body)
        }
    }

    static func headers(_ token: String? = token) -> HTTPFields {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let token { headers[.authorization] = "Bearer \(token)" }
        return headers
    }

    static func json(_ response: TestResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
    }

    static let event = #"{"type":"m.room.message","sender":"@irc_bob:example.org","room_id":"!a:example.org","content":{"body":"hi"}}"#

    @Test func enqueueAnswersWithTheDurablePosition() async throws {
        let harness = try Harness()
        try await harness.test { client in
            try await client.execute(uri: "/_asched/v1/services/irc/enqueue", method: .post, headers: Self.headers(),
                                     body: ByteBuffer(string: #"{"events": [\#(Self.event), \#(Self.event)]}"#)) { response in
                #expect(response.status == .ok)
                let answer = try Self.json(response)
                #expect(answer["position"] as? Int == 1)
            }
        }
        #expect(try harness.records() >= 1)
    }

    /// A disk that cannot take more gets a retryable 503 naming the floor, counted in the metrics,
    /// and nothing is written.
    @Test func enqueueOverTheDiskFloorIsARetryable503() async throws {
        let harness = try Harness(availableBytesMin: 1 << 62)
        try await harness.test { client in
            for uri in ["/_asched/v1/services/irc/enqueue", "/_asched/v1/events"] {
                try await client.execute(uri: uri, method: .post, headers: Self.headers(),
                                         body: ByteBuffer(string: #"{"events": [\#(Self.event)]}"#)) { response in
                    #expect(response.status == .serviceUnavailable)
                    let answer = try Self.json(response)
                    #expect(answer["errcode"] as? String == "M_RESOURCE_LIMIT_EXCEEDED")
                    #expect((answer["error"] as? String)?.contains("under the floor of \(1 << 62) bytes") == true)
                }
            }
            try await client.execute(uri: "/metrics", method: .get, headers: Self.headers()) { response in
                #expect(String(buffer: response.body).contains(#"asched_enqueue_refused_total{reason="disk_space"} 2"#))
            }
        }
        #expect(try harness.records() == 0)
    }

    @Test func servicesListsEveryConfiguredService() async throws {
        let harness = try Harness()
        try await harness.test { client in
            try await client.execute(uri: "/_asched/v1/services", method: .get, headers: Self.headers()) { response in
                let services = try #require(try Self.json(response)["services"] as? [[String: Any]])
                #expect(services.map { $0["id"] as? String } == ["irc", "slack"])
                for service in services {
                    #expect(service["state"] as? String == "up")
                    #expect(service["pending_txns"] as? Int == 0 && service["queued_events"] as? Int == 0)
                    #expect(service.keys.contains("last_completed_txn") || service["last_completed_txn"] == nil)
                }
            }
        }
    }

    @Test func eventsAreRoutedByNamespace() async throws {
        let harness = try Harness()
        try await harness.test { client in
            let body = #"{"events": [\#(Self.event), {"type":"m.room.message","sender":"@carol:example.org","room_id":"!nobody:example.org","content":{}}]}"#
            try await client.execute(uri: "/_asched/v1/events", method: .post, headers: Self.headers(),
                                     body: ByteBuffer(string: body)) { response in
                #expect(response.status == .ok)
                let answer = try Self.json(response)
                #expect(answer["routed"] as? [String: Int] == ["irc": 1])
            }
        }
    }

    @Test func forcedRetryAndHealthAndMetrics() async throws {
        let harness = try Harness()
        try await harness.test { client in
            try await client.execute(uri: "/_asched/v1/services/irc/retry", method: .post, headers: Self.headers()) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/healthz", method: .get, headers: Self.headers()) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/_asched/v1/services/irc/enqueue", method: .post, headers: Self.headers(),
                                     body: ByteBuffer(string: #"{"events": [\#(Self.event)]}"#)) { _ in }
            try await client.execute(uri: "/metrics", method: .get, headers: Self.headers()) { response in
                let text = String(buffer: response.body)
                #expect(text.contains(#"asched_events_enqueued_total{service="irc"} 1"#))
                #expect(text.contains("asched_log_bytes") && text.contains("asched_fsync_seconds"))
                #expect(!text.contains(HTTPAPITests.token))
            }
        }
    }

    /// A kind of item the service's registration does not ask for is refused, and nothing is
    /// written. (Both fixtures now take to-device messages: either ephemeral flag brings them.)
    @Test func aKindTheServiceDoesNotTakeIsRefused() async throws {
        let directory = try Fixtures.scratchDirectory(files: ["plain.yaml": RegistrationTests.minimal])
        let harness = try Harness(registrations: [directory + "/plain.yaml"])
        try await harness.test { client in
            try await client.execute(uri: "/_asched/v1/services/bot/enqueue", method: .post, headers: Self.headers(),
                                     body: ByteBuffer(string: #"{"to_device": [{}]}"#)) { response in
                let answer = try Self.json(response)
                #expect(response.status == .badRequest)
                #expect(answer["errcode"] as? String == "M_BAD_JSON")
            }
        }
        #expect(try harness.records() == 0, "bad input reached the log")
    }

    /// Each bad request gets its status and errcode, and the log stays as it was.
    @Test(arguments: [
        ("/_asched/v1/services/irc/enqueue", "{not json", HTTPAPITests.token, 400, "M_NOT_JSON"),
        ("/_asched/v1/services/irc/enqueue", #"["a list"]"#, HTTPAPITests.token, 400, "M_BAD_JSON"),
        ("/_asched/v1/services/irc/enqueue", #"{"events": {"not": "a list"}}"#, HTTPAPITests.token, 400, "M_BAD_JSON"),
        ("/_asched/v1/services/irc/enqueue", #"{"events": [1, 2]}"#, HTTPAPITests.token, 400, "M_BAD_JSON"),
        ("/_asched/v1/services/irc/enqueue", #"{}"#, HTTPAPITests.token, 400, "M_BAD_JSON"),
        ("/_asched/v1/services/nope/enqueue", #"{"events": [{}]}"#, HTTPAPITests.token, 404, "M_NOT_FOUND"),
        ("/_asched/v1/services/irc/enqueue", #"{"events": [{}]}"#, "wrong-token", 401, "M_UNKNOWN_TOKEN"),
        ("/_asched/v1/services/irc/enqueue", #"{"events": [{}]}"#, nil, 401, "M_MISSING_TOKEN"),
        ("/_asched/v1/events", #"{"events": "nope"}"#, HTTPAPITests.token, 400, "M_BAD_JSON"),
        ("/_asched/v1/events", #"{"no_events": []}"#, HTTPAPITests.token, 400, "M_BAD_JSON"),
        ("/_asched/v1/services/irc/enqueue", "{\"events\": [{\"body\": \"" + String(repeating: "x", count: 5000) + "\"}]}",
         HTTPAPITests.token, 413, "M_TOO_LARGE"),
    ] as [(String, String, String?, Int, String)])
    func badInputIsAnsweredAndChangesNothing(uri: String, body: String, token: String?, status: Int, errcode: String) async throws {
        let harness = try Harness()
        try await harness.test { client in
            try await client.execute(uri: uri, method: .post, headers: Self.headers(token), body: ByteBuffer(string: body)) { response in
                #expect(response.status.code == status)
                let error = try Self.json(response)
                #expect(error["errcode"] as? String == errcode)
                #expect(!((error["error"] as? String) ?? "").isEmpty)
                #expect(!String(buffer: response.body).contains(HTTPAPITests.token))
            }
        }
        #expect(try harness.records() == 0, "bad input reached the log")
    }
}
