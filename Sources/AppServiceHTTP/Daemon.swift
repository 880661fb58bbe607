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
    /// transport (tests), and `onServerRunning` receives the bound port (useful with port 0).
    package static func buildApplication(
        configuration: DaemonConfiguration, logger: Logger, transport: (any Transport)? = nil,
        clock: any SchedulerClock = SystemClock(),
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws -> some ApplicationProtocol {
        let metrics = SchedulerMetrics()
        var schedulerConfiguration = configuration.schedulerConfiguration
        schedulerConfiguration.log.onSync = { metrics.synced(in: $0) }
        let matrix = transport == nil
            ? MatrixTransport(registrations: configuration.registrations, requestTimeout: configuration.sendTimeout) : nil
        let scheduler = try await AppServiceScheduler.open(
            directory: configuration.dataDirectory, services: configuration.serviceDescriptors,
            transport: transport ?? matrix!, clock: clock, configuration: schedulerConfiguration)
        let router = buildRouter(configuration: configuration, scheduler: scheduler, metrics: metrics)
        let lifecycle = SchedulerService(scheduler: scheduler, matrix: matrix, metrics: metrics, logger: logger)
        return Application(
            router: router,
            configuration: .init(address: .hostname(configuration.listenHost, port: configuration.listenPort), serverName: "asched"),
            services: [lifecycle],
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
    }

    /// The HTTP API's routes, behind the ingest token when one is configured.
    static func buildRouter(configuration: DaemonConfiguration, scheduler: AppServiceScheduler,
                            metrics: SchedulerMetrics) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        if let token = configuration.ingestToken {
            router.add(middleware: BearerTokenMiddleware(token: Array(token.utf8)))
        }
        ServicesController(scheduler: scheduler, metrics: metrics, bodyBytesMax: configuration.bodyBytesMax)
            .addRoutes(to: router.group("_asched/v1/services"))
        EventsController(scheduler: scheduler, router: configuration.router, metrics: metrics,
                         bodyBytesMax: configuration.bodyBytesMax)
            .addRoutes(to: router.group("_asched/v1/events"))
        OperationsController(scheduler: scheduler, metrics: metrics, logDirectory: configuration.dataDirectory)
            .addRoutes(to: router)
        return router
    }
}
