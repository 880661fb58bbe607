import AppServiceHTTP
import Logging
import ServiceLifecycle

/// The daemon as `asched serve` builds it, in this process, on `directory` with one service
/// `bench` at a loopback port: what the end-to-end and ingest runs measure.
struct BenchDaemon {
    /// The port the daemon's HTTP API bound.
    let port: Int
    private let group: ServiceGroup
    private let running: Task<Void, any Error>

    /// Starts it and returns once it listens. Its ingest token is `bench`; the service's
    /// hs_token is `h`, and its user namespace takes every user.
    static func start(directory: String, servicePort: Int, logger: Logger) async throws -> BenchDaemon {
        var configuration = DaemonConfiguration()
        configuration.dataDirectory = directory
        configuration.listenPort = 0
        configuration.ingestToken = "bench"
        configuration.registrations = [try Registration(yaml: registration(servicePort: servicePort), file: "bench.yaml")]
        let listening = ListeningPort()
        let daemon = try await Daemon.buildApplication(configuration: configuration, logger: logger) { await listening.set($0) }
        let group = ServiceGroup(configuration: .init(services: [daemon], logger: logger))
        let running = Task { try await group.run() }
        return BenchDaemon(port: await listening.value(), group: group, running: running)
    }

    /// The registration of service `bench` at `servicePort`, as a file holds it.
    static func registration(servicePort: Int) -> String {
        """
        id: bench
        url: http://127.0.0.1:\(servicePort)
        as_token: a
        hs_token: h
        sender_localpart: benchbot
        namespaces: {users: [{regex: "@.*", exclusive: false}]}
        """
    }

    /// Stops it as SIGTERM would, and waits until it has.
    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await running.value
    }
}
