import AppServiceSchedulerPostgres
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import ServiceLifecycle
import Synchronization

/// An instance started while another holds the database's writer lease: it serves `listen` as
/// a standby (`/healthz` is 503 `{"status": "standby", "active": …}`, so a load balancer sends
/// nothing to it; any other request a retryable 503 naming the active instance) and takes the
/// lease once it expired, that is once the active instance stopped renewing it.
package enum Standby {
    /// How often a standby looks at the lease.
    static let pollInterval = Duration.seconds(1)

    /// The store of `configuration`'s database, its lease taken, once no other instance holds
    /// it: at once when none does, else after serving as a standby until the holder's lease
    /// expired. Nil when SIGTERM or SIGINT came first.
    package static func takeLease(configuration: DaemonConfiguration, logger: Logger,
                                  onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws -> PostgresRecordStore? {
        guard let url = configuration.databaseURL else { preconditionFailure("a standby needs database_url") }
        let recordBytesMax = configuration.schedulerConfiguration.log.recordBytesMax
        let take = {
            try await PostgresRecordStore.openIfLeaseExpired(url: url, holder: configuration.instanceName, recordBytesMax: recordBytesMax,
                                                             leaseDuration: configuration.leaseDuration, logger: logger)
        }
        if let store = try await take() { return store }
        let status = StandbyStatus(instanceName: configuration.instanceName)
        await status.set(active: try? await PostgresRecordStore.currentLease(url: url).holder, problem: nil)
        let app = application(configuration: configuration, status: status, logger: logger, onServerRunning: onServerRunning)
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        let ended = Mutex(false)
        // The server ends only on a signal: then so does the wait.
        let serving = Task {
            defer { ended.withLock { $0 = true } }
            try await group.run()
        }
        logger.info("another instance holds the writer lease: serving as a standby", metadata: ["database": "\(url)"])
        while true {
            try? await Task.sleep(for: pollInterval)
            if ended.withLock({ $0 }) { return nil }
            do {
                let lease = try await PostgresRecordStore.currentLease(url: url)
                await status.set(active: lease.holder, problem: nil)
                if let store = try await take() {
                    await group.triggerGracefulShutdown()
                    try await serving.value
                    logger.info("took the writer lease", metadata: ["database": "\(url)", "epoch": "\(store.epoch)"])
                    return store
                }
            } catch {
                await status.set(active: nil, problem: "database unreachable: \(error)")
            }
        }
    }

    private static func application(configuration: DaemonConfiguration, status: StandbyStatus, logger: Logger,
                                    onServerRunning: @escaping @Sendable (Int) async -> Void) -> some Service {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: StandbyResponder(status: status))
        var server = HTTPServerBuilder.http1()
        if let tls = try? configuration.serverTLSConfiguration() { server = (try? .tls(.http1(), tlsConfiguration: tls)) ?? server }
        return Application(router: router, server: server,
                           configuration: .init(address: .hostname(configuration.listenHost, port: configuration.listenPort),
                                                serverName: "asched"),
                           onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) }, logger: logger)
    }
}

/// What a standby knows of the active instance.
actor StandbyStatus {
    let instanceName: String
    private(set) var active: String?
    private(set) var problem: String?

    init(instanceName: String) {
        self.instanceName = instanceName
    }

    func set(active: String?, problem: String?) {
        if let active { self.active = active }
        self.problem = problem
    }
}

/// Every request to a standby: `/healthz` says standby; anything else is a retryable 503 naming
/// the active instance (this one does not take enqueues, events or relayed transactions yet).
struct StandbyResponder<Context: RequestContext>: RouterMiddleware {
    let status: StandbyStatus

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let name = status.instanceName
        let active = await status.active
        let problem = await status.problem
        let activeText = active.map { "instance \($0) holds the writer lease" } ?? "no instance is known to hold the writer lease"
        let body: [String: Any]
        if request.uri.path == "/healthz" {
            var reasons = ["standby: \(activeText); this instance (\(name)) takes over once that lease expires"]
            if let problem { reasons.append(problem) }
            body = ["status": "standby", "active": active ?? NSNull(), "reasons": reasons]
        } else {
            body = ["errcode": "M_UNAVAILABLE",
                    "error": "this instance (\(name)) is a standby: \(activeText); send to the active instance, or retry"]
        }
        let data = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys, .withoutEscapingSlashes])
        return Response(status: .serviceUnavailable, headers: [.contentType: "application/json", .retryAfter: "1"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}
