import AppServiceHTTP
import ArgumentParser
import Hummingbird
import Logging

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

            Each registration {id} has a relay base for the homeserver,
            http://{listen}/_asched/v1/relay/{id}, authenticated by its hs_token;
            `asched registration FILE --relay-url URL` prints the homeserver's copy.

            SIGTERM or SIGINT stops accepting requests, abandons sends under way (they are
            resent, same id, on the next start), syncs the log and exits 0.

            Examples:
              asched serve --config /etc/asched/asched.yaml
              asched serve --config asched.yaml --log-level debug
            """)

    @Option(help: "The YAML configuration file.") var config: String?
    @Option(help: "Least severe log level shown: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func run() async throws {
        let configuration = try DaemonConfiguration.load(path: config)
        var logger = Logger(label: "asched")
        logger.logLevel = logLevel
        logger.info("opening the log", metadata: ["data_dir": "\(configuration.dataDirectory)",
                                                  "services": "\(configuration.serviceDescriptors.map(\.id))"])
        let app = try await Daemon.buildApplication(configuration: configuration, logger: logger) { [logger] port in
            logger.info("listening", metadata: ["address": "\(configuration.listenHost):\(port)"])
        }
        try await app.runService()
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
