import AppServiceSchedulerPostgres
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import ServiceLifecycle
import Synchronization

/// The instances on one database spread the configured services over themselves
/// (``PostgresDeployment/assignedServices(of:among:)``): each takes the leases of those
/// assigned to it that no other instance holds, and delivers them. An instance that holds none
/// serves `listen` as a standby meanwhile: it forwards each request to the instance delivering
/// its service (one about no particular service, to any such instance) and answers with its
/// answer. `/healthz` is 503 `{"status": "standby", …}`, so a load balancer that checks it sends
/// requests to instances that deliver.
///
/// An instance started while the database does not answer serves as a standby too (every request
/// a retryable 503 saying so) until it does, rather than exiting.
package enum Standby {
    /// How often a standby reads the deployment, and a delivering instance renews its place in it.
    static let pollInterval = Duration.seconds(1)

    /// The store of `configuration`'s database holding the leases of services assigned to this
    /// instance, once it could take one: at once when they are free, else after serving as a
    /// standby until they are (their holder died, released them, or the deployment changed).
    /// Nil when SIGTERM or SIGINT (through `signals`) came first.
    package static func takeServices(configuration: DaemonConfiguration, logger: Logger, signals: ShutdownSignals,
                                     onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws
        -> PostgresRecordStore? {
        guard let url = configuration.databaseURL else { preconditionFailure("a standby needs database_url") }
        let owners = ServiceOwners(instanceName: configuration.instanceName, delivered: [])
        let heartbeat = PostgresHeartbeat(url: url, instance: configuration.instanceName)
        let store = try await waitForServices(configuration: configuration, url: url, owners: owners, heartbeat: heartbeat,
                                              logger: logger, signals: signals, onServerRunning: onServerRunning)
        await heartbeat.close()
        return store
    }

    /// ``takeServices(configuration:logger:signals:onServerRunning:)``'s work, beating on `heartbeat`.
    private static func waitForServices(configuration: DaemonConfiguration, url: PostgresDatabaseURL, owners: ServiceOwners,
                                        heartbeat: PostgresHeartbeat, logger: Logger, signals: ShutdownSignals,
                                        onServerRunning: @escaping @Sendable (Int) async -> Void) async throws
        -> PostgresRecordStore? {
        // The first attempt stops the start on what waiting does not mend (a refused login, a newer
        // schema); later ones, once serving, wait out any failure, saying why.
        let attempt = { (first: Bool) async throws -> PostgresRecordStore? in
            do {
                // The tables are created or migrated (a schema transaction) until that once succeeded.
                let failedLastTime = await owners.problem != nil
                let prepare = first || failedLastTime
                let store = try await take(configuration, url: url, owners: owners, heartbeat: heartbeat, prepare: prepare,
                                           logger: logger)
                await owners.set(problem: nil)
                return store
            } catch let error as PostgresStoreError where error.isUnreachable {
                await owners.set(problem: "database unreachable: \(error)")
                return nil
            } catch where !first {
                await owners.set(problem: "cannot read the deployment: \(error)")
                return nil
            }
        }
        if let store = try await attempt(true) { return store }
        if let why = await owners.problem {
            logger.warning("the database does not answer: serving as a standby until it does", metadata: ["reason": "\(why)"])
        } else {
            logger.info("the services assigned to this instance are delivered by others: serving as a standby",
                        metadata: ["database": "\(url)"])
        }
        let forwarder = OwnerForwarder(instanceName: configuration.instanceName,
                                       bodyBytesMax: max(configuration.bodyBytesMax, configuration.relayBodyBytesMax),
                                       timeouts: ForwardTimeouts(connect: .seconds(2)), trustRoots: try configuration.peerTrustRoots())
        let spread = ServiceSpread(owners: owners, forwarder: forwarder, registrations: Registrations(configuration.registrations))
        let app = try application(configuration: configuration, responder: StandbyResponder(spread: spread, bodyBytesMax: configuration.bodyBytesMax),
                                  logger: logger, onServerRunning: { port in
                                      await owners.listening(at: configuration.advertiseURL(boundPort: port))
                                      await onServerRunning(port)
                                  })
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
                await forwarder.stopForwarding()
                return nil
            }
            if let store = try await attempt(false) {
                await group.triggerGracefulShutdown()
                // As a step-down does (Daemon): the drain must not wait on forwards to the owner
                // whose leases this store just took, which may have stopped answering.
                await forwarder.stopForwarding()
                try await serving.value
                return store
            }
        }
    }

    /// Renews this instance's place in the deployment and reads it (with `prepare`, creating or
    /// migrating the tables first); when a service assigned to this instance is free, opens a
    /// store taking the assigned ones that are. Nil when none was.
    private static func take(_ configuration: DaemonConfiguration, url: PostgresDatabaseURL, owners: ServiceOwners,
                             heartbeat: PostgresHeartbeat, prepare: Bool, logger: Logger) async throws -> PostgresRecordStore? {
        if prepare { try await PostgresDeployment.prepare(url: url) }
        let deployment = try await heartbeat.beat(address: await owners.address, duration: configuration.leaseDuration)
        await owners.update(deployment)
        let assigned = deployment.assignedServices(of: configuration.instanceName, among: configuration.registrations.map(\.id))
        guard assigned.contains(where: { deployment.leases[$0]?.isLive != true }) else { return nil }
        let store = try await PostgresRecordStore.open(url: url, holder: configuration.instanceName, services: Set(assigned),
                                                       recordBytesMax: configuration.schedulerConfiguration.log.recordBytesMax,
                                                       leaseDuration: configuration.leaseDuration, logger: logger)
        guard store.services?.isEmpty == false else {
            try await store.close()
            return nil
        }
        logger.info("took the leases of services", metadata: ["database": "\(url)", "services": "\(store.services ?? [])",
                                                              "incarnation": "\(store.epoch)"])
        return store
    }

    private static func application(configuration: DaemonConfiguration, responder: StandbyResponder<BasicRequestContext>,
                                    logger: Logger, onServerRunning: @escaping @Sendable (Int) async -> Void) throws -> some Service {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: RouteErrorMiddleware())
        router.add(middleware: responder)
        var server = HTTPServerBuilder.http1()
        // As the daemon does: a bad certificate or key stops the start, naming the key and the file.
        if let tls = try configuration.serverTLSConfiguration() { server = try .tls(.http1(), tlsConfiguration: tls) }
        return Application(router: router, server: server,
                           configuration: .init(address: .hostname(configuration.listenHost, port: configuration.listenPort),
                                                serverName: "asched"),
                           onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) }, logger: logger)
    }
}

/// Every request to a standby: `/healthz` says standby; a request about a service goes on to
/// the instance delivering it, any other to an instance delivering some service; a retryable 503
/// says why when there is none (the database unreachable, the leases moving).
struct StandbyResponder<Context: RequestContext>: RouterMiddleware {
    let spread: ServiceSpread
    /// `max_body_size`, for a `/_asched/v1/events` body it routes.
    let bodyBytesMax: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let owners = spread.owners
        let why = await owners.problem
        let any = why == nil ? await owners.anyOwner() : nil
        if request.uri.path != "/healthz" {
            if why == nil, let service = OwnerRouting<Context>.service(in: request.uri.path), spread.isElsewhere(service) {
                return try await OwnerRouting<Context>(spread: spread).handle(request, context: context, next: next)
            }
            // Routed here, not by one instance for all: an instance forwarded a request routes it for
            // its own services only.
            if why == nil, request.method == .post, request.uri.path == "/_asched/v1/events" { return try await routeEvents(request) }
            if why == nil, request.method == .get, request.uri.path == "/_asched/v1/services" {
                let entries = await ServicesController<Context>.entries(of: spread.elsewhere, from: spread, headers: request.headers)
                return try RequestJSON.response(["services": entries.sorted { ($0["id"] as? String ?? "") < ($1["id"] as? String ?? "") }])
            }
            if let any { return try await spread.forward(request, about: nil, to: any) }
        }
        let delivering = any.map { "instance \($0.name) delivers services (requests here are forwarded to the instances delivering them)" }
            ?? "no instance is known to deliver a service yet"
        let body: [String: Any]
        if request.uri.path == "/healthz" {
            var reasons = ["standby: \(delivering); this instance (\(owners.instanceName)) delivers the services assigned to it "
                               + "once their leases are free"]
            if let why { reasons.append(why) }
            body = ["status": "standby", "active": any?.name ?? NSNull(), "forwarding_to": any?.address ?? NSNull(), "reasons": reasons]
        } else {
            body = ["errcode": "M_UNAVAILABLE",
                    "error": "this instance (\(owners.instanceName)) is a standby and cannot forward this request: \(why ?? delivering); retry"]
        }
        let data = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys, .withoutEscapingSlashes])
        return Response(status: .serviceUnavailable, headers: [.contentType: "application/json", .retryAfter: "1"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// `POST /_asched/v1/events` on a standby: the body sent to the instances delivering the
    /// services its events are routed to, and their counts merged, as a delivering instance does
    /// for the services it does not deliver.
    private func routeEvents(_ request: Request) async throws -> Response {
        let document = try await RequestJSON.document(of: request, limit: bodyBytesMax)
        guard document.member("events", of: document.root) != nil else { throw HTTPAPIError.badJSON("missing \"events\"") }
        let router = NamespaceRouter(live: spread.registrations)
        var services: Set<String> = []
        for event in try RequestJSON.objects("events", in: document) {
            services.formUnion(router.serviceIDs(forEvent: event, in: document))
        }
        let counts = services.isEmpty ? [:] : try await spread.forwardEvents(document, headers: request.headers, for: services)
        return RequestJSON.response(counts: counts, under: "routed")
    }
}
