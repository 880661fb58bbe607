import AppServiceHTTP
import AppServiceScheduler
import AppServiceSchedulerTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import ServiceLifecycle
import Synchronization
import Testing

/// A stand-in application service on loopback that records every request as it arrived (raw
/// path and query) and answers by path: `/slow` after 60 s or when the service stops, `/rooms/`
/// with a Matrix 404, anything else `200 {"ok": true}`.
final class ForwardTargetService: Sendable {
    struct Received: Sendable {
        let method: HTTPRequest.Method
        let path: String
        let query: String?
        let authorization: String?
        let contentType: String?
        let body: [UInt8]
    }

    private let requests = Mutex<[Received]>([])
    /// Set when the service stops, so a `/slow` answer does not hold up the shutdown.
    private let stopping = Mutex(false)

    var received: [Received] { requests.withLock { $0 } }

    /// Runs `body` with the service listening on a free loopback port.
    static func run(_ body: @Sendable (ForwardTargetService, Int) async throws -> Void) async throws {
        let service = ForwardTargetService()
        let port = ListeningPort()
        let group = ServiceGroup(configuration: .init(services: [service.application { await port.set($0) }],
                                                      logger: Logger(label: "forward-target")))
        let running = Task { try await group.run() }
        do {
            try await body(service, await port.value())
        } catch {
            service.stopping.withLock { $0 = true }
            await group.triggerGracefulShutdown()
            _ = try? await running.value
            throw error
        }
        service.stopping.withLock { $0 = true }
        await group.triggerGracefulShutdown()
        try await running.value
    }

    private func application(onRunning: @escaping @Sendable (Int) async -> Void) -> some ApplicationProtocol {
        let router = Router()
        for method in [HTTPRequest.Method.get, .head, .post, .put, .delete, .patch, .options] {
            router.on("**", method: method) { request, _ -> Response in try await self.answer(request) }
        }
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                           onServerRunning: { await onRunning($0.localAddress?.port ?? 0) })
    }

    private func answer(_ request: Request) async throws -> Response {
        let body = try await request.body.collect(upTo: 1 << 20)
        let path = request.uri.path
        requests.withLock {
            $0.append(Received(method: request.method, path: path, query: request.uri.query,
                               authorization: request.headers[.authorization], contentType: request.headers[.contentType],
                               body: Array(buffer: body)))
        }
        if path.hasSuffix("/slow") {
            for _ in 0..<1_200 where !stopping.withLock({ $0 }) {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        if path.contains("/rooms/") {
            return Response(status: .notFound, headers: [.contentType: "application/json; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: #"{"errcode":"M_NOT_FOUND","error":"no such room"}"#)))
        }
        return Response(status: .ok, headers: [.contentType: "application/json"],
                        body: ResponseBody(byteBuffer: ByteBuffer(string: #"{"ok":true}"#)))
    }
}

/// The relay's synchronous requests go on to the service's real url with the same raw path
/// and query, its hs_token, the same method and body, and come back unchanged; an unreachable
/// or slow service is a quick Matrix 502 or 504; a ping the service answers retries it now.
@Suite struct ForwardTests {
    static let hsToken = "hs_token_for_the_bridge"

    struct Harness {
        let configuration: DaemonConfiguration
        let transport = ScriptedTransport()
        var timeouts = ForwardTimeouts(connect: .seconds(2), total: .seconds(10))

        /// A daemon whose one service, "bridge", lives at `url`.
        init(url: String) throws {
            let directory = try Fixtures.scratchDirectory(files: ["bridge.yaml": """
                id: bridge
                url: \(url)
                as_token: as_token_for_the_bridge
                hs_token: \(ForwardTests.hsToken)
                sender_localpart: bridgebot
                namespaces:
                  users: [{regex: "@bridge_.*", exclusive: true}]
                """])
            var configuration = try DaemonConfiguration(yaml: "registrations: [bridge.yaml]", file: directory + "/asched.yaml")
            configuration.dataDirectory = directory + "/data"
            configuration.ingestToken = "ingest-token"
            configuration.backoff = BackoffPolicy(initial: .seconds(3600), maximum: .seconds(3600))
            self.configuration = configuration
        }

        func test(_ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
            let app = try await Daemon.buildApplication(
                configuration: configuration, logger: Logger(label: "daemon"), transport: transport,
                clock: ManualClock(), forwardTimeouts: timeouts)
            try await app.test(.live, body)
        }
    }

    static let base = "/_asched/v1/relay/bridge"

    static func json(_ response: TestResponse) -> [String: Any]? {
        try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
    }

    @Test func pathQueryBodyAndAnswerPassThroughUnchanged() async throws {
        let claim = #"{"@bridge_a:localhost":{"DEVICE":{"signed_curve25519":1}}}"#
        try await ForwardTargetService.run { service, port in
            let daemon = try Harness(url: "http://127.0.0.1:\(port)/prefix/")
            try await daemon.test { client in
                // The alias stays percent-encoded: a decoded "#" would end the path.
                try await client.execute(uri: Self.base + "/_matrix/app/v1/rooms/%23bridge_x%3Alocalhost?access_token=\(Self.hsToken)&b=two%20words&a=1",
                                         method: .get) { response in
                    #expect(response.status == .notFound)
                    #expect(response.headers[.contentType] == "application/json; charset=utf-8")
                    #expect(String(buffer: response.body) == #"{"errcode":"M_NOT_FOUND","error":"no such room"}"#)
                }
                try await client.execute(uri: Self.base + "/_matrix/app/unstable/org.matrix.msc3983/keys/claim", method: .post,
                                         headers: [.authorization: "Bearer \(Self.hsToken)", .contentType: "application/json"],
                                         body: ByteBuffer(string: claim)) { response in
                    #expect(response.status == .ok)
                    #expect(String(buffer: response.body) == #"{"ok":true}"#)
                }
                try await client.execute(uri: Self.base + "/_matrix/app/v1/users/@bridge_amy:localhost", method: .get,
                                         headers: [.authorization: "Bearer \(Self.hsToken)"]) { response in
                    #expect(response.status == .ok)
                }
            }
            let received = service.received
            try #require(received.count == 3)
            #expect(received[0].method == .get)
            #expect(received[0].path == "/prefix/_matrix/app/v1/rooms/%23bridge_x%3Alocalhost")
            #expect(received[0].query == "b=two%20words&a=1", "access_token is dropped, the rest kept as sent")
            #expect(received[1].method == .post && received[1].path == "/prefix/_matrix/app/unstable/org.matrix.msc3983/keys/claim")
            #expect(received[1].body == Array(claim.utf8) && received[1].contentType == "application/json")
            #expect(received[2].path == "/prefix/_matrix/app/v1/users/@bridge_amy:localhost" && received[2].query == nil)
            #expect(received.allSatisfy { $0.authorization == "Bearer \(Self.hsToken)" }, "the service gets its hs_token as a header")
        }
    }

    /// The relay answers for the service's token as the AS API does, and the ingest token is no
    /// key to it; nothing unauthenticated reaches the service.
    @Test func theHomeserverTokenIsRequired() async throws {
        try await ForwardTargetService.run { service, port in
            let daemon = try Harness(url: "http://127.0.0.1:\(port)")
            try await daemon.test { client in
                let uri = Self.base + "/_matrix/app/v1/users/@bridge_amy:localhost"
                let cases: [(String, HTTPFields, Int, String)] = [
                    (uri, [:], 401, "M_UNAUTHORIZED"),
                    (uri, [.authorization: "Bearer wrong"], 403, "M_FORBIDDEN"),
                    (uri, [.authorization: "Bearer ingest-token"], 403, "M_FORBIDDEN"),
                    (uri + "?access_token=wrong", [:], 403, "M_FORBIDDEN"),
                    (uri + "?access_token=", [:], 401, "M_UNAUTHORIZED"),
                    (uri, [.authorization: "Basic \(Self.hsToken)"], 401, "M_UNAUTHORIZED"),
                ]
                for (uri, headers, status, errcode) in cases {
                    try await client.execute(uri: uri, method: .get, headers: headers) { response in
                        #expect(response.status.code == status, "\(uri) \(headers)")
                        #expect(Self.json(response)?["errcode"] as? String == errcode)
                        #expect(!String(buffer: response.body).contains(Self.hsToken))
                    }
                }
                try await client.execute(uri: uri, method: .get, headers: [.authorization: "bearer \(Self.hsToken)"]) { response in
                    #expect(response.status == .ok, "the scheme name is case-insensitive")
                }
            }
            #expect(service.received.count == 1)
        }
    }

    /// `..` would leave `_matrix/app/` on the service, with the hs_token: nothing of it is forwarded.
    @Test func dotSegmentsAreNotForwarded() async throws {
        try await ForwardTargetService.run { service, port in
            let daemon = try Harness(url: "http://127.0.0.1:\(port)")
            try await daemon.test { client in
                for path in ["/_matrix/app/../../admin", "/_matrix/app/v1/%2E%2E/x", "/_matrix/app/./v1/ping", "/_matrix/app/v1/a%2F..%2F..%2Fx"] {
                    try await client.execute(uri: Self.base + path, method: .get,
                                             headers: [.authorization: "Bearer \(Self.hsToken)"]) { response in
                        #expect(response.status == .notFound, "\(path)")
                        #expect(Self.json(response)?["errcode"] as? String == "M_UNRECOGNIZED")
                    }
                }
            }
            #expect(service.received.isEmpty)
        }
    }

    @Test func anUnreachableServiceIsAQuick502() async throws {
        let refusing = try LoopbackSocket()
        defer { withExtendedLifetime(refusing) {} }
        var daemon = try Harness(url: "http://127.0.0.1:\(refusing.port)")
        // A connect timeout far above what a loaded machine takes to answer (the whole suite on 2
        // cores has taken 9 s), so the bound below tells a refusal from a wait for the timeout.
        daemon.timeouts = ForwardTimeouts(connect: .seconds(90), total: .seconds(120))
        try await daemon.test { client in
            let started = ContinuousClock.now
            try await client.execute(uri: Self.base + "/_matrix/app/v1/users/@bridge_amy:localhost", method: .get,
                                     headers: [.authorization: "Bearer \(Self.hsToken)"]) { response in
                #expect(response.status == .badGateway)
                #expect(Self.json(response)?["errcode"] as? String == "M_CONNECTION_FAILED")
            }
            #expect(ContinuousClock.now - started < .seconds(45), "a refused connection is not retried until the connect timeout")
        }
    }

    @Test func aSlowServiceIsA504WithinTheBound() async throws {
        try await ForwardTargetService.run { _, port in
            var daemon = try Harness(url: "http://127.0.0.1:\(port)")
            daemon.timeouts = ForwardTimeouts(connect: .seconds(1), total: .milliseconds(500))
            try await daemon.test { client in
                let started = ContinuousClock.now
                try await client.execute(uri: Self.base + "/_matrix/app/v1/thirdparty/slow", method: .get,
                                         headers: [.authorization: "Bearer \(Self.hsToken)"]) { response in
                    #expect(response.status == .gatewayTimeout)
                    #expect(Self.json(response)?["errcode"] as? String == "M_CONNECTION_TIMEOUT")
                }
                // The service holds its answer 60 s: the 504 is the relay's bound, not the service's
                // answer (a loaded machine may deliver it late, so the upper bound is loose).
                let elapsed = ContinuousClock.now - started
                #expect(elapsed >= .milliseconds(450) && elapsed < .seconds(30), "\(elapsed)")
            }
        }
    }

    /// A ping the service answers retries a DOWN service at once, though its backoff (an hour,
    /// on a clock that never moves) is far from over.
    @Test func aPingTheServiceAnswersRetriesItNow() async throws {
        try await ForwardTargetService.run { service, port in
            let daemon = try Harness(url: "http://127.0.0.1:\(port)")
            daemon.transport.script([.failed(reason: "down for the test")], for: "bridge")
            try await daemon.test { client in
                let ingest: HTTPFields = [.authorization: "Bearer ingest-token"]
                try await client.execute(uri: "/_asched/v1/services/bridge/enqueue", method: .post, headers: ingest,
                                         body: ByteBuffer(string: #"{"events": [{"type": "m.room.message"}]}"#)) { response in
                    #expect(response.status == .ok)
                }
                #expect(try await Self.waitForState("down", client: client))
                try await client.execute(uri: Self.base + "/_matrix/app/v1/ping", method: .post,
                                         headers: [.authorization: "Bearer \(Self.hsToken)", .contentType: "application/json"],
                                         body: ByteBuffer(string: #"{"transaction_id": "ping-1"}"#)) { response in
                    #expect(response.status == .ok)
                }
                #expect(try await Self.waitForState("up", client: client), "the ping did not retry the service")
            }
            #expect(daemon.transport.attempts.map(\.id) == [1, 1], "the retry is the same transaction")
            #expect(service.received.map(\.path) == ["/_matrix/app/v1/ping"])
        }
    }

    /// Polls `GET /_asched/v1/services` until "bridge" is in `state`, for up to 5 s.
    static func waitForState(_ state: String, client: some TestClientProtocol) async throws -> Bool {
        for _ in 0..<100 {
            let current = try await client.execute(uri: "/_asched/v1/services", method: .get,
                                                   headers: [.authorization: "Bearer ingest-token"]) { response in
                ((json(response)?["services"] as? [[String: Any]])?.first?["state"] as? String)
            }
            if current == state { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }
}
