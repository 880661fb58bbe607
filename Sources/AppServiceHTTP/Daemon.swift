import AppServiceScheduler
import AppServiceSchedulerPostgres
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import ServiceLifecycle

/// The `asched serve` daemon: the scheduler on its data directory (or its PostgreSQL database),
/// the Matrix transport to the registered services, and the HTTP API on `listen`.
///
/// ```swift
/// let configuration = try DaemonConfiguration.load(path: "/etc/asched.yaml")
/// let app = try await Daemon.buildApplication(configuration: configuration, logger: Logger(label: "asched"))
/// try await app.runService()   // until SIGTERM or SIGINT: stop accepting, sync, close
/// ```
package enum Daemon {
    /// Opens the scheduler and builds the HTTP application; `transport` replaces the Matrix
    /// transport (tests), `forwardTimeouts` bound the relay's forwarded requests (and, for
    /// `connect`, the Matrix transport's connections too), and
    /// `onServerRunning` receives the bound port (useful with port 0), as
    /// `onMetricsServerRunning` does the `metrics_listen` server's. `reloader`, when given, can
    /// then put the configuration file's edited registrations in force.
    ///
    /// With `tls_certificate` and `tls_key`, `listen` serves HTTPS; their files are read and
    /// checked before the log is opened, so a bad one stops start-up with the file and the reason.
    ///
    /// With `database_url`, `store` is the database's store holding the leases of the services
    /// this instance delivers (``Standby/takeServices(configuration:logger:signals:onServerRunning:)``):
    /// the scheduler delivers those, requests about the others go on to the instances delivering
    /// them (``OwnerRouting``), and the daemon steps down when the services are assigned anew
    /// (``Rebalancer``). Without `store`, the daemon takes the database's writer lease from
    /// whoever holds it and delivers every service. Either way the store renews its leases while
    /// it runs (every third of `leaseDuration`), and the daemon stops with an error once it lost
    /// one (``LeaseKeeper``); given `onLeaseLost`, it hands that error (or the reassignment) over
    /// instead, for the caller to shut the daemon down gracefully.
    package static func buildApplication(
        configuration: DaemonConfiguration, logger: Logger, store: PostgresRecordStore? = nil, transport: (any Transport)? = nil,
        clock: any SchedulerClock = SystemClock(), forwardTimeouts: ForwardTimeouts = ForwardTimeouts(),
        reloader: RegistrationReloader? = nil,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in },
        onMetricsServerRunning: @escaping @Sendable (Int) async -> Void = { _ in },
        onLeaseLost: (@Sendable (any Error) async -> Void)? = nil
    ) async throws -> some ApplicationProtocol {
        var server = HTTPServerBuilder.http1()
        if let tls = try configuration.serverTLSConfiguration() {
            server = try .tls(.http1(), tlsConfiguration: tls)
        }
        let metrics = SchedulerMetrics(clock: clock)
        var schedulerConfiguration = configuration.schedulerConfiguration
        schedulerConfiguration.log.onSync = { metrics.synced(in: $0) }
        let registrations = Registrations(configuration.registrations)
        let matrix = transport == nil
            ? MatrixTransport(registrations: registrations, requestTimeout: configuration.sendTimeout,
                              connectTimeout: forwardTimeouts.connect) : nil
        let (scheduler, watch) = try await openScheduler(configuration: configuration, schedulerConfiguration: schedulerConfiguration,
                                                         store: store, transport: transport ?? matrix!, clock: clock, logger: logger)
        let delivered = store?.services.map(Set.init)
        await reloader?.attach(configuration: configuration, registrations: registrations, scheduler: scheduler, delivered: delivered,
                               logger: logger)
        let forwarding = ForwardClient(timeouts: forwardTimeouts)
        let spread = delivered.map { delivered in
            ServiceSpread(owners: ServiceOwners(instanceName: configuration.instanceName, delivered: delivered),
                          forwarder: OwnerForwarder(instanceName: configuration.instanceName,
                                                    bodyBytesMax: max(configuration.bodyBytesMax, configuration.relayBodyBytesMax),
                                                    timeouts: ForwardTimeouts(connect: .seconds(2)),
                                                    trustRoots: (try? configuration.peerTrustRoots()) ?? []),
                          registrations: registrations)
        }
        let operations = OperationsController<BasicRequestContext>(scheduler: scheduler, metrics: metrics, configuration: configuration,
                                                                   store: watch)
        let router = buildRouter(configuration: configuration, registrations: registrations, scheduler: scheduler,
                                 metrics: metrics, operations: operations, forwarding: forwarding, store: watch, spread: spread)
        // A step-down first ends the forwards in flight: its server's drain would otherwise wait,
        // up to the forward's 30 s, for each one to an instance that stopped answering (paused,
        // as when its lease running out is what changed the assignment): tools/pg-failover
        // measured up to 27 s from the decision to the step-down before.
        let stepDown = onLeaseLost.map { onLeaseLost in
            { @Sendable (reason: any Error) async in
                await spread?.forwarder.stopForwarding()
                await onLeaseLost(reason)
            }
        }
        var services: [any Service] = [
            SchedulerService(scheduler: scheduler, matrix: matrix, metrics: metrics, logger: logger,
                             compactionInterval: watch.database == nil ? nil : configuration.databaseCompactionInterval),
            forwarding,
        ]
        if let database = watch.database {
            services.append(LeaseKeeper(store: database, instanceName: configuration.instanceName, logger: logger,
                                        stepDown: stepDown))
        }
        if let spread, let url = configuration.databaseURL {
            services.append(Rebalancer(url: url, owners: spread.owners, registrations: registrations,
                                       leaseDuration: configuration.leaseDuration, logger: logger,
                                       stepDown: stepDown ?? { _ in }))
            services.append(spread.forwarder)
        }
        if let address = configuration.metricsListen {
            services.append(metricsApplication(address: address, operations: operations, logger: logger,
                                               onServerRunning: onMetricsServerRunning))
        }
        return Application(
            router: router, server: server,
            configuration: .init(address: .hostname(configuration.listenHost, port: configuration.listenPort), serverName: "asched"),
            services: services,
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                if let database = watch.database {
                    await spread?.owners.listening(at: configuration.advertiseURL(boundPort: port))
                    await advertise(configuration.advertiseURL(boundPort: port), in: database, logger: logger)
                }
                await onServerRunning(port)
            },
            logger: logger)
    }

    /// Writes `address` into the writer lease once the server listens there, so standbys forward
    /// to it. A failure costs no request: standbys answer a retryable 503 meanwhile.
    private static func advertise(_ address: String, in database: PostgresRecordStore, logger: Logger) async {
        do {
            if try await database.advertise(address: address) {
                logger.info("standbys forward requests here", metadata: ["advertise_url": "\(address)"])
            }
        } catch {
            logger.warning("cannot advertise this instance's address: standbys answer 503 instead of forwarding",
                           metadata: ["advertise_url": "\(address)", "reason": "\(error)"])
        }
    }

    /// The scheduler on the configured store: the embedded log in `data_dir`, or the database of
    /// `database_url`, whose writer lease this instance then takes as `instance_name` (fencing
    /// the instance that held it: the database refuses its writes from then on).
    static func openScheduler(configuration: DaemonConfiguration, schedulerConfiguration: SchedulerConfiguration,
                              store taken: PostgresRecordStore?, transport: any Transport, clock: any SchedulerClock,
                              logger: Logger) async throws -> (AppServiceScheduler, StoreWatch) {
        let delivered = taken?.services.map(Set.init)
        let services = configuration.serviceDescriptors.filter { delivered?.contains($0.id) ?? true }
        guard let url = configuration.databaseURL else {
            let scheduler = try await AppServiceScheduler.open(directory: configuration.dataDirectory, services: services,
                                                               transport: transport, clock: clock, configuration: schedulerConfiguration)
            return (scheduler, StoreWatch(instanceName: configuration.instanceName, database: nil))
        }
        let store: PostgresRecordStore
        if let taken {
            store = taken
        } else {
            store = try await PostgresRecordStore.open(url: url, holder: configuration.instanceName,
                                                       recordBytesMax: schedulerConfiguration.log.recordBytesMax,
                                                       leaseDuration: configuration.leaseDuration, logger: logger)
        }
        do {
            let scheduler = try await AppServiceScheduler.open(store: store, services: services, transport: transport, clock: clock,
                                                               configuration: schedulerConfiguration)
            return (scheduler, StoreWatch(instanceName: configuration.instanceName, database: store))
        } catch {
            try? await store.close()
            throw error
        }
    }

    /// The routes. Routing comes before auth: the ingest token guards only the
    /// ingest and admin routes (`/healthz` needs none), the relay routes check the service's
    /// hs_token themselves, and a request no route takes is a Matrix 404 or 405 whatever its
    /// token. Every error answer is Matrix JSON. Relay, forwarding and routing read the
    /// registrations in force from `registrations` at each request.
    static func buildRouter(configuration: DaemonConfiguration, registrations: Registrations, scheduler: AppServiceScheduler,
                            metrics: SchedulerMetrics, operations: OperationsController<BasicRequestContext>,
                            forwarding: ForwardClient, store: StoreWatch, spread: ServiceSpread?) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: RouteErrorMiddleware())
        // Before the token check: the instance delivering the service checks the request's.
        if let spread { router.add(middleware: OwnerRouting(spread: spread)) }
        let ingest = router.group()
        if let token = configuration.ingestToken {
            ingest.add(middleware: BearerTokenMiddleware(token: Array(token.utf8)))
        }
        ServicesController(scheduler: scheduler, metrics: metrics, bodyBytesMax: configuration.bodyBytesMax, store: store, spread: spread)
            .addRoutes(to: ingest.group("_asched/v1/services"))
        EventsController(scheduler: scheduler, router: NamespaceRouter(live: registrations), metrics: metrics,
                         bodyBytesMax: configuration.bodyBytesMax, spread: spread)
            .addRoutes(to: ingest.group("_asched/v1/events"))
        operations.addRoutes(authenticated: ingest, open: router.group())
        RelayController(scheduler: scheduler, metrics: metrics, registrations: registrations, configuration: configuration)
            .addRoutes(to: router.group("_asched/v1/relay"))
        ForwardController(registrations: registrations, scheduler: scheduler, client: forwarding,
                          bodyBytesMax: configuration.bodyBytesMax)
            .addRoutes(to: router.group("_asched/v1/relay/:id"))
        // Last: it then wraps only the not-found responder (see RouteFallbackMiddleware).
        router.add(middleware: RouteFallbackMiddleware(routes: router.routes, relayServices: registrations))
        return router
    }

    /// The `metrics_listen` server: `GET /metrics` without a token, plain HTTP, anything else
    /// a Matrix 404 or 405. It runs as a service of the main application, so it starts and stops
    /// with it.
    static func metricsApplication(address: (host: String, port: Int), operations: OperationsController<BasicRequestContext>,
                                   logger: Logger, onServerRunning: @escaping @Sendable (Int) async -> Void) -> some Service {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: RouteErrorMiddleware())
        operations.addMetricsRoute(to: router)
        router.add(middleware: RouteFallbackMiddleware(routes: router.routes, relayServices: Registrations([])))
        return Application(
            router: router,
            configuration: .init(address: .hostname(address.host, port: address.port), serverName: "asched-metrics"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
    }
}
