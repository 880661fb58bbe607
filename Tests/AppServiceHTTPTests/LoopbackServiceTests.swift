import AppServiceHTTP
import AppServiceScheduler
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import ServiceLifecycle
import Synchronization
import Testing

/// The real transport against a real application service on loopback: path, token, body, ids;
/// failures (500, 2xx without JSON, timeout) mark the service DOWN; retries carry the same id
/// and body; recovery marks it UP.
@Suite struct LoopbackServiceTests {
    /// A stand-in application service that answers from a script and records every request.
    final class ScriptedService: Sendable {
        enum Answer: Sendable { case status(Int), okWithoutJSON, hang, ok }
        struct Received: Sendable {
            let path: String
            let authorization: String?
            let body: [UInt8]
        }

        private let state = Mutex<(answers: [Answer], received: [Received], waiters: [(Int, CheckedContinuation<Void, Never>)])>(([], [], []))

        init(answers: [Answer]) { state.withLock { $0.answers = answers } }

        var received: [Received] { state.withLock { $0.received } }

        func answer(_ request: Received) -> Answer {
            let (answer, ready) = state.withLock { state -> (Answer, [CheckedContinuation<Void, Never>]) in
                state.received.append(request)
                let answer = state.answers.isEmpty ? Answer.ok : state.answers.removeFirst()
                let count = state.received.count
                let ready = state.waiters.filter { $0.0 <= count }.map(\.1)
                state.waiters.removeAll { $0.0 <= count }
                return (answer, ready)
            }
            for continuation in ready { continuation.resume() }
            return answer
        }

        /// Returns once `count` requests have arrived.
        func waitForRequests(_ count: Int) async {
            await withCheckedContinuation { continuation in
                let now = state.withLock { state -> Bool in
                    if state.received.count >= count { return true }
                    state.waiters.append((count, continuation))
                    return false
                }
                if now { continuation.resume() }
            }
        }

        func application(onRunning: @escaping @Sendable (Int) async -> Void) -> some ApplicationProtocol {
            let router = Router()
            router.put("_matrix/app/v1/transactions/:txn") { request, _ -> Response in
                let body = try await request.body.collect(upTo: 1 << 20)
                let received = Received(path: request.uri.path, authorization: request.headers[.authorization], body: Array(buffer: body))
                switch self.answer(received) {
                case .status(let code):
                    return Response(status: .init(code: code), body: ResponseBody(byteBuffer: ByteBuffer(string: #"{"errcode":"M_UNKNOWN"}"#)))
                case .okWithoutJSON:
                    return Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(string: "fine")))
                case .hang:
                    try await Task.sleep(for: .seconds(5))
                    return Response(status: .ok)
                case .ok:
                    return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: "{}")))
                }
            }
            return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                               onServerRunning: { await onRunning($0.localAddress?.port ?? 0) })
        }
    }

    @Test func failuresMarkDownAndRetriesResendTheSameTransaction() async throws {
        let service = ScriptedService(answers: [.status(500), .okWithoutJSON, .hang, .ok])
        let port = ListeningPort()
        let serviceGroup = ServiceGroup(configuration: .init(services: [service.application { await port.set($0) }],
                                                             logger: Logger(label: "as")))
        let running = Task { try await serviceGroup.run() }
        let servicePort = await port.value()

        let directory = try Fixtures.scratchDirectory(files: ["registration.yaml": """
            id: bridge
            url: http://127.0.0.1:\(servicePort)
            as_token: as_secret
            hs_token: hs_secret_for_bridge
            sender_localpart: bridgebot
            namespaces:
              users: [{regex: "@bridge_.*", exclusive: true}]
            """])
        var configuration = try DaemonConfiguration(yaml: "registrations: [registration.yaml]", file: directory + "/asched.yaml")
        configuration.dataDirectory = directory + "/data"
        configuration.ingestToken = "ingest"
        configuration.backoff = BackoffPolicy(initial: .milliseconds(20), maximum: .milliseconds(100))
        configuration.sendTimeout = .milliseconds(300)
        let app = try await Daemon.buildApplication(configuration: configuration, logger: Logger(label: "daemon"))
        try await app.test(.live) { client in
            let body = #"{"events": [{"type":"m.room.message","sender":"@bridge_amy:example.org","content":{"body":"one"}}]}"#
            try await client.execute(uri: "/_asched/v1/services/bridge/enqueue", method: .post,
                                     headers: [.authorization: "Bearer ingest"], body: ByteBuffer(string: body)) { response in
                #expect(response.status == .ok)
            }
            await service.waitForRequests(4)
            try await client.execute(uri: "/_asched/v1/services", method: .get, headers: [.authorization: "Bearer ingest"]) { response in
                let services = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
                let bridge = (services?["services"] as? [[String: Any]])?.first
                #expect(bridge?["id"] as? String == "bridge")
            }
        }
        await serviceGroup.triggerGracefulShutdown()
        try await running.value

        let received = service.received
        // Four answers are scripted; on a loaded machine the fourth can also time out, and the
        // retry after it is the same transaction again.
        #expect(received.count >= 4)
        #expect(received.allSatisfy { $0.path == "/_matrix/app/v1/transactions/1" })
        #expect(received.allSatisfy { $0.authorization == "Bearer hs_secret_for_bridge" })
        #expect(Set(received.map(\.body)).count == 1, "a retry changed the body")
        let body = try #require(try JSONSerialization.jsonObject(with: Data(received[0].body)) as? [String: Any])
        #expect((body["events"] as? [[String: Any]])?.first?["sender"] as? String == "@bridge_amy:example.org")
        #expect(body["ephemeral"] == nil, "the registration does not ask for ephemeral events")
    }
}
