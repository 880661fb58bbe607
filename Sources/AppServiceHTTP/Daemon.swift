import AppServiceScheduler
import Hummingbird
import Logging

/// The `asched serve` daemon: the scheduler on its data directory, the Matrix transport to the
/// registered services, and the HTTP API on `listen`.
///
/// ```swift
/// let configuration = try DaemonConfiguration.load(path: "/etc/asched.yaml")
/// let app = try await Daemon.buildApplication(configuration: configuration, logger: Logger(label: "asched"))
/// try await app.runService()   // until SIGTERM or SIGINT: stop accepting, sync, close
/// ```
package enum Daemon {
    /// Opens the scheduler and builds the HTTP application; `transport` replaces the Matrix
    /// transport (tests), `forwardTimeouts` bound the relay's forwarded requests, and
    /// `onServerRunning` receives the bound port (useful with port 0).
    package static func buildApplication(
        configuration: DaemonConfiguration, logger: Logger, transport: (any Transport)? = nil,
        clock: any SchedulerClock = SystemClock(), forwardTimeouts: ForwardTimeouts = ForwardTimeouts(),
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws -> some ApplicationProtocol {
        let metrics = SchedulerMetrics(clock: clock)
        var schedulerConfiguration = configuration.schedulerConfiguration
        schedulerConfiguration.log.onSync = { metrics.synced(in: $0) }
        let matrix = transport == nil
            ? MatrixTransport(registrations: configuration.registrations, requestTimeout: configuration.sendTimeout) : nil
        let scheduler = try await AppServiceScheduler.open(
            directory: configuration.dataDirectory, services: configuration.serviceDescriptors,
            transport: transport ?? matrix!, clock: clock, configuration: schedulerConfiguration)
        let forwarding = ForwardClient(timeouts: forwardTimeouts)
        let router = buildRouter(configuration: configuration, scheduler: scheduler, metrics: metrics, forwarding: forwarding)
        let lifecycle = SchedulerService(scheduler: scheduler, matrix: matrix, metrics: metrics, logger: logger)
        return Application(
            router: router,
            configuration: .init(address: .hostname(configuration.listenHost, port: configuration.listenPort), serverName: "asched"),
            services: [lifecycle, forwarding],
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
    }

    /// The HTTP API's routes. Routing comes before auth: the ingest token guards only the
    /// ingest and admin routes (`/healthz` needs none), the relay routes check the service's
    /// hs_token themselves, and a request no route takes is a Matrix 404 or 405 whatever its
    /// token. Every error answer is Matrix JSON.
    static func buildRouter(configuration: DaemonConfiguration, scheduler: AppServiceScheduler,
                            metrics: SchedulerMetrics, forwarding: ForwardClient) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: RouteErrorMiddleware())
        let ingest = router.group()
        if let token = configuration.ingestToken {
            ingest.add(middleware: BearerTokenMiddleware(token: Array(token.utf8)))
        }
        ServicesController(scheduler: scheduler, metrics: metrics, bodyBytesMax: configuration.bodyBytesMax)
            .addRoutes(to: ingest.group("_asched/v1/services"))
        EventsController(scheduler: scheduler, router: configuration.router, metrics: metrics,
                         bodyBytesMax: configuration.bodyBytesMax)
            .addRoutes(to: ingest.group("_asched/v1/events"))
        OperationsController(scheduler: scheduler, metrics: metrics, logDirectory: configuration.dataDirectory)
            .addRoutes(authenticated: ingest, open: router.group())
        let registrations = Dictionary(uniqueKeysWithValues: configuration.registrations.map { ($0.id, $0) })
        RelayController(scheduler: scheduler, metrics: metrics, configuration: configuration)
            .addRoutes(to: router.group("_asched/v1/relay"))
        ForwardController(registrations: registrations, scheduler: scheduler, client: forwarding,
                          bodyBytesMax: configuration.bodyBytesMax)
            .addRoutes(to: router.group("_asched/v1/relay/:id"))
        // Last: it then wraps only the not-found responder (see RouteFallbackMiddleware).
        router.add(middleware: RouteFallbackMiddleware(routes: router.routes, relayServices: Set(registrations.keys)))
        return router
    }
}
