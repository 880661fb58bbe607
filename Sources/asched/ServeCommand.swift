import AppServiceHTTP
import AppServiceSchedulerPostgres
import ArgumentParser
import Dispatch
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// `asched serve`: the daemon.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the daemon: take events over HTTP and deliver them to the application services.",
        discussion: """
            Reads the YAML configuration; without --config every key takes its default.
            Sizes are bytes or a whole number with KiB, MiB or GiB (64MiB); durations a
            whole number with ms, s or m (2s). docs/OPERATIONS.md explains each key.

            \(ConfigurationKey.helpText)

            With database_url (or \(DaemonConfiguration.databaseURLVariable), which wins
            over it and keeps the password out of the file), the records live in
            PostgreSQL, and the instances started with the same database spread the services
            over themselves: each takes the leases of its share (as instance_name, renewed
            every 2 s for 6 s), writes its advertise_url there, and delivers them; a request
            for a service another instance delivers is forwarded there and answered with its
            answer. An instance with no service to deliver serves as a standby (GET /healthz
            is 503 "standby", so a load balancer may skip it). When an instance dies, the
            others take its services once its leases expire; when one joins, the others hand
            its share over. An instance that lost a lease (paused, or cut off from the
            database past it) shuts down its daemon as SIGTERM would and takes its share
            again. One started while the database does not answer waits as a standby
            (requests get a retryable 503) until it does.

            With tls_certificate and tls_key, listen serves HTTPS. GET /healthz needs no
            token; metrics_listen serves /metrics without one on its own address. The
            ingest token may instead come from ingest_token_file or the environment
            variable \(DaemonConfiguration.ingestTokenVariable); it is never printed.

            Each registration {id} has a relay base for the homeserver,
            http://{listen}/_asched/v1/relay/{id}, authenticated by its hs_token;
            `asched registration FILE --relay-url URL` prints the homeserver's copy.

            SIGHUP reads the file's registrations again: new services start receiving,
            changed ones apply from the next attempt, removed ones stop (their state stays
            in the log); a file that does not load is refused and logged, the old
            registrations stay. Other changed keys need a restart.

            SIGTERM or SIGINT stops accepting requests, abandons sends under way (they are
            resent, same id, on the next start), syncs the log and exits 0; while the log or
            database opens and replays, it exits 0 at once (nothing is acknowledged yet). One
            that arrives while an instance steps down stops it instead of standing by.

            Examples:
              asched serve --config /etc/asched/asched.yaml
              asched serve --config asched.yaml --log-level debug
            """)

    @Option(help: "The YAML configuration file.") var config: String?
    @Option(help: "Least severe log level shown: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func run() async throws {
        // First, so a signal is never met by the default action: at any moment it stops the process as documented.
        let signals = ShutdownSignals()
        signals.install()
        var configuration = try DaemonConfiguration.load(path: config)
        var logger = Logger(label: "asched")
        logger.logLevel = logLevel
        if let database = configuration.databaseURL {
            // The URL's description leaves its password out.
            logger.info("opening the database", metadata: ["database": "\(database)", "from": "\(configuration.databaseURLSource)",
                                                       "instance_name": "\(configuration.instanceName)",
                                                       "services": "\(configuration.serviceDescriptors.map(\.id))"])
        } else {
            logger.info("opening the log", metadata: ["data_dir": "\(configuration.dataDirectory)",
                                                      "services": "\(configuration.serviceDescriptors.map(\.id))"])
        }
        let reloader = RegistrationReloader()
        let hangups = Self.reloadOnHangup(reloader)
        defer { hangups.cancel() }
        // An instance that lost a lease (paused, cut off from the database past it), or whose
        // services were assigned anew, stepped down gracefully: it takes its services again.
        while try await serve(configuration: configuration, reloader: reloader, signals: signals, logger: logger) {
            logger.warning("stepped down: serving as a standby until the services assigned to this instance are free again")
            // The file as it is now, as a restart would read it (registrations a SIGHUP put in force included).
            do {
                configuration = try DaemonConfiguration.load(path: config)
            } catch {
                logger.error("the configuration file does not load; going on with the one in force", metadata: ["reason": "\(error)"])
            }
        }
    }

    /// Runs the daemon until SIGTERM or SIGINT (false), or until it lost the database's writer
    /// lease and stepped down (true; false when a signal came while it did). With a database,
    /// first waits as a standby for the lease.
    private func serve(configuration: DaemonConfiguration, reloader: RegistrationReloader, signals: ShutdownSignals,
                       logger: Logger) async throws -> Bool {
        let scheme = configuration.tlsCertificatePath == nil ? "http" : "https"
        var store: PostgresRecordStore?
        if configuration.databaseURL != nil {
            store = try await Standby.takeServices(configuration: configuration, logger: logger, signals: signals, onServerRunning: { [logger] port in
                logger.info("listening as a standby", metadata: ["address": "\(configuration.listenHost):\(port)", "scheme": "\(scheme)"])
            })
            // SIGTERM or SIGINT while a standby: nothing was written, nothing to close.
            guard store != nil else { return false }
        }
        let stepDown = StepDown()
        let app = try await Daemon.buildApplication(
            configuration: configuration, logger: logger, store: store, reloader: reloader,
            onServerRunning: { [logger] port in
                logger.info("listening", metadata: ["address": "\(configuration.listenHost):\(port)", "scheme": "\(scheme)"])
            },
            onMetricsServerRunning: { [logger] port in
                logger.info("serving /metrics without a token", metadata: ["metrics": "\(configuration.metricsListen?.host ?? ""):\(port)"])
            },
            onLeaseLost: { await stepDown.lost($0) })
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        await stepDown.attach(group)
        try await signals.run(group)
        return await stepDown.error != nil && !signals.requested
    }

    /// Installed before the server listens, so a SIGHUP sent once it does never meets the
    /// default action, which ends the process.
    private static func reloadOnHangup(_ reloader: RegistrationReloader) -> any DispatchSourceSignal {
        signal(SIGHUP, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGHUP)
        // A refused reload is logged by the reloader; the daemon goes on with what is in force.
        source.setEventHandler { Task { _ = try? await reloader.reload() } }
        source.resume()
        return source
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
