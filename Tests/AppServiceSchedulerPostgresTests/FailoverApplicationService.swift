import AppServiceHTTP
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// A loopback application service for daemons in other processes: it records every transaction
/// PUT to it, and refuses them (HTTP 500) while told to.
final class FailoverApplicationService: Sendable {
    struct Attempt: Sendable {
        let id: UInt64
        let body: [UInt8]
        let accepted: Bool
    }

    private final class Recorder: Sendable {
        let state = Mutex((attempts: [Attempt](), refusing: false))
    }

    let port: Int
    private let recorder: Recorder
    private let group: ServiceGroup
    private let running: Task<Void, any Error>

    private init(port: Int, recorder: Recorder, group: ServiceGroup, running: Task<Void, any Error>) {
        self.port = port
        self.recorder = recorder
        self.group = group
        self.running = running
    }

    var attempts: [Attempt] { recorder.state.withLock { $0.attempts } }

    func refuse(_ refusing: Bool) {
        recorder.state.withLock { $0.refusing = refusing }
    }

    /// A service listening on a free loopback port.
    static func start() async throws -> FailoverApplicationService {
        let recorder = Recorder()
        let router = Router()
        router.put("_matrix/app/v1/transactions/:txn") { request, context -> Response in
            let id = UInt64(context.parameters.get("txn") ?? "") ?? 0
            let body = Array(try await request.body.collect(upTo: 16 << 20).readableBytesView)
            let accepted = recorder.state.withLock { state in
                state.attempts.append(Attempt(id: id, body: body, accepted: !state.refusing))
                return !state.refusing
            }
            return Response(status: accepted ? .ok : .internalServerError, headers: [.contentType: "application/json"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: "{}")))
        }
        let bound = ListeningPort()
        let logger = Logger(label: "failover-as", factory: { _ in SwiftLogNoOpLogHandler() })
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { await bound.set($0.localAddress?.port ?? 0) }, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let running = Task { try await group.run() }
        return FailoverApplicationService(port: await bound.value(), recorder: recorder, group: group, running: running)
    }

    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await running.value
    }
}
