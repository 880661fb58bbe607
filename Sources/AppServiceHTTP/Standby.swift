import AppServiceSchedulerPostgres
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import ServiceLifecycle
import Synchronization

/// An instance started while another holds the database's writer lease: it serves `listen` as
/// a standby and takes the lease once it expired, that is once the active instance stopped
/// renewing it. A standby accepts requests all the same: it forwards each to the active
/// instance, at the address that instance advertised (``ActiveInstanceForwarder``), and answers
/// with its answer. `/healthz` is 503 `{"status": "standby", "active": …, "forwarding_to": …}`,
/// so a load balancer that checks it sends requests to the active instance directly.
///
/// An instance started while the database does not answer serves as a standby too (every request
/// a retryable 503 saying so) until it does, rather than exiting.
package enum Standby {
    /// How often a standby looks at the lease.
    static let pollInterval = Duration.seconds(1)

    /// The store of `configuration`'s database, its lease taken, once no other instance holds
    /// it: at once when none does, else after serving as a standby until the holder's lease
    /// expired. Nil when SIGTERM or SIGINT (through `signals`) came first.
    package static func takeLease(configuration: DaemonConfiguration, logger: Logger, signals: ShutdownSignals,
                                  onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws -> PostgresRecordStore? {
        guard let url = configuration.databaseURL else { preconditionFailure("a standby needs database_url") }
        let recordBytesMax = configuration.schedulerConfiguration.log.recordBytesMax
        let take = {
            try await PostgresRecordStore.openIfLeaseExpired(url: url, holder: configuration.instanceName, recordBytesMax: recordBytesMax,
                                                             leaseDuration: configuration.leaseDuration, logger: logger)
        }
        let status = StandbyStatus(instanceName: configuration.instanceName)
        do {
            if let store = try await take() { return store }
            await status.set(try? await PostgresRecordStore.currentLease(url: url))
            logger.info("another instance holds the writer lease: serving as a standby", metadata: ["database": "\(url)"])
        } catch let error as PostgresStoreError where error.isUnreachable {
            await status.set(problem: "database unreachable: \(error)")
            logger.warning("the database does not answer: serving as a standby until it does", metadata: ["reason": "\(error)"])
        }
        let forwarder = ActiveInstanceForwarder(instanceName: configuration.instanceName,
                                                bodyBytesMax: max(configuration.bodyBytesMax, configuration.relayBodyBytesMax),
                                                timeouts: ForwardTimeouts(connect: .seconds(2)),
                                                trustRoots: try configuration.peerTrustRoots())
        let app = try application(configuration: configuration, status: status, forwarder: forwarder, logger: logger,
                                  onServerRunning: onServerRunning)
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let ended = Mutex(false)
        // The server ends only on a signal: then so does the wait.
        let serving = Task {
            defer { ended.withLock { $0 = true } }
            try await signals.run(group)
        }
        while true {
            try? await Task.sleep(for: pollInterval)
            if ended.withLock({ $0 }) {
                try? await forwarder.shutdown()
                return nil
            }
            do {
                // The lease is read on one connection; the heavier take (two connections and a
                // schema transaction) only once it is free, or when it cannot be read (the
                // database down, or no tables yet).
                let lease = try? await PostgresRecordStore.currentLease(url: url)
                if lease?.isFree ?? true, let store = try await take() {
                    // Forwards still waiting on the old holder end now, so the server stops at once.
                    await status.leaseMoved(to: store.epoch)
                    await group.triggerGracefulShutdown()
                    try await serving.value
                    try? await forwarder.shutdown()
                    logger.info("took the writer lease", metadata: ["database": "\(url)", "epoch": "\(store.epoch)"])
                    return store
                }
                if let lease {
                    await status.set(lease)
                } else {
                    await status.set(try await PostgresRecordStore.currentLease(url: url))
                }
            } catch {
                await status.set(problem: "database unreachable: \(error)")
            }
        }
    }

    private static func application(configuration: DaemonConfiguration, status: StandbyStatus, forwarder: ActiveInstanceForwarder,
                                    logger: Logger, onServerRunning: @escaping @Sendable (Int) async -> Void) throws -> some Service {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: StandbyResponder(status: status, forwarder: forwarder))
        var server = HTTPServerBuilder.http1()
        // As the daemon does: a bad certificate or key stops the start, naming the key and the file.
        if let tls = try configuration.serverTLSConfiguration() { server = try .tls(.http1(), tlsConfiguration: tls) }
        return Application(router: router, server: server,
                           configuration: .init(address: .hostname(configuration.listenHost, port: configuration.listenPort),
                                                serverName: "asched"),
                           onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) }, logger: logger)
    }
}

/// What a standby knows of the active instance.
actor StandbyStatus {
    let instanceName: String

    /// What a request is answered from: read in one step, so a request costs one hop to the actor.
    struct Snapshot {
        /// The writer lease's holder, once read.
        var active: String?
        /// The lease's epoch when last read: a new one means a new holder.
        var epoch: Int64?
        /// Where the holder serves its HTTP API; nil until it advertised it.
        var address: String?
        /// Why the lease could not be read last time, if it could not.
        var problem: String?
    }

    private(set) var snapshot = Snapshot()
    /// Forwards waiting for the epoch to move from the one they were sent under, by their id.
    private var epochWaiters: [UUID: (epoch: Int64?, continuation: CheckedContinuation<Void, any Error>)] = [:]

    init(instanceName: String) {
        self.instanceName = instanceName
    }

    /// The lease as read; nil leaves what was known.
    func set(_ lease: (epoch: Int64, holder: String, address: String, isFree: Bool)?) {
        guard let lease else { return }
        snapshot = Snapshot(active: lease.holder, epoch: lease.epoch, address: lease.address.isEmpty ? nil : lease.address)
        resumeEpochWaiters()
    }

    /// This instance took the lease, at `epoch`.
    func leaseMoved(to epoch: Int64) {
        snapshot.epoch = epoch
        snapshot.address = nil
        resumeEpochWaiters()
    }

    /// The lease could not be read: requests are refused, not sent to an address that may be stale.
    func set(problem: String) {
        snapshot.problem = problem
        snapshot.address = nil
    }

    /// Returns once the lease's epoch is no longer `epoch`: the holder a request was forwarded
    /// to lost it (it died, or was paused past it), and will answer late or never. Throws
    /// `CancellationError` once the calling task is cancelled (the forward was answered).
    func leaseChange(from epoch: Int64?) async throws {
        let id = UUID()
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                if Task.isCancelled {
                    continuation.resume(throwing: CancellationError())
                } else if snapshot.epoch != epoch {
                    continuation.resume()
                } else {
                    epochWaiters[id] = (epoch, continuation)
                }
            }
        } onCancel: {
            Task { await self.cancelEpochWaiter(id) }
        }
    }

    private func cancelEpochWaiter(_ id: UUID) {
        epochWaiters.removeValue(forKey: id)?.continuation.resume(throwing: CancellationError())
    }

    private func resumeEpochWaiters() {
        for (id, waiter) in epochWaiters where waiter.epoch != snapshot.epoch {
            epochWaiters.removeValue(forKey: id)
            waiter.continuation.resume()
        }
    }
}

/// Every request to a standby: `/healthz` says standby; anything else goes on to the active
/// instance, or is a retryable 503 saying why it cannot (no address advertised yet, the
/// database unreachable).
struct StandbyResponder<Context: RequestContext>: RouterMiddleware {
    let status: StandbyStatus
    let forwarder: ActiveInstanceForwarder

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let name = status.instanceName
        let known = await status.snapshot
        let (active, address, problem) = (known.active, known.address, known.problem)
        if request.uri.path != "/healthz", let active, let address {
            return try await forward(request, to: address, active: active, epoch: known.epoch)
        }
        let activeText = active.map { "instance \($0) holds the writer lease" } ?? "no instance is known to hold the writer lease"
        let body: [String: Any]
        if request.uri.path == "/healthz" {
            let forwarding = address.map { "; requests here are forwarded to it at \($0)" } ?? ""
            var reasons = ["standby: \(activeText)\(forwarding); this instance (\(name)) takes over once that lease expires"]
            if let problem { reasons.append(problem) }
            body = ["status": "standby", "active": active ?? NSNull(), "forwarding_to": address ?? NSNull(), "reasons": reasons]
        } else {
            let why = problem ?? "\(activeText) and has not advertised its address yet"
            body = ["errcode": "M_UNAVAILABLE", "error": "this instance (\(name)) is a standby and cannot forward this request: \(why); retry"]
        }
        let data = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys, .withoutEscapingSlashes])
        return Response(status: .serviceUnavailable, headers: [.contentType: "application/json", .retryAfter: "1"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// The active instance's answer, unless the lease moves first: a holder paused past its
    /// lease would hold the request until the forward's time limit, while its successor already
    /// takes requests. The client then gets a retryable 503.
    private func forward(_ request: Request, to address: String, active: String, epoch: Int64?) async throws -> Response {
        try await withThrowingTaskGroup(of: Response?.self) { group in
            group.addTask { try await forwarder.forward(request, to: address, active: active) }
            group.addTask {
                try await status.leaseChange(from: epoch)
                return nil
            }
            defer { group.cancelAll() }
            guard let response = try await group.next() ?? nil else {
                throw HTTPAPIError(.serviceUnavailable, "M_UNAVAILABLE",
                                   "instance \(active) lost the writer lease while this standby (\(status.instanceName)) forwarded "
                                       + "this request to it; it may or may not have been committed; retry", headers: [.retryAfter: "1"])
            }
            return response
        }
    }
}
