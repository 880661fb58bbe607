import AppServiceHTTP
import AppServiceScheduler
import ArgumentParser
import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// `asched demo`: the whole system on a temporary directory, with stand-in services.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the daemon end to end: a temporary log, two stand-in services, one of which goes DOWN.",
        discussion: """
            Starts the daemon on loopback with two registrations (irc by sender namespace, slack by
            room namespace), posts events through the HTTP API from four clients, takes slack DOWN
            for a few seconds and brings it back, shows live progress, waits until every event is
            delivered, stops the daemon and inspects the log it left.

            Example:
              asched demo --events 4000
            """)

    @Option(help: "How many events to post.") var events = 3000
    @Flag(help: "Keep the temporary data directory.") var keep = false

    func run() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("asched-demo-\(getpid())").path
        var logger = Logger(label: "asched-demo")
        logger.logLevel = .error
        let services = DemoApplicationService()
        let servicesListening = ListeningPort()
        let stand = services.application(token: { "hs_demo_\($0)" }, onServerRunning: { await servicesListening.set($0) })
        let serviceGroup = ServiceGroup(configuration: .init(services: [stand], logger: logger))
        let standTask = Task { try await serviceGroup.run() }
        let servicesPort = await servicesListening.value()

        let configuration = try Self.configuration(directory: directory, servicesPort: servicesPort)
        let daemonListening = ListeningPort()
        let daemon = try await Daemon.buildApplication(configuration: configuration, logger: logger) { await daemonListening.set($0) }
        let daemonGroup = ServiceGroup(configuration: .init(services: [daemon], logger: logger))
        let daemonTask = Task { try await daemonGroup.run() }
        let daemonPort = await daemonListening.value()
        FileHandle.standardOutput.write(Data("asched demo: data directory \(directory), API on 127.0.0.1:\(daemonPort), services on 127.0.0.1:\(servicesPort)\n".utf8))

        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let load = DemoLoad(client: client, port: daemonPort, token: configuration.ingestToken!, total: events)
        let expected = try await load.run(services: services, progress: { await Self.progress(load: load, services: services) })
        while await !Self.allDelivered(expected, services) {
            await Self.progress(load: load, services: services)
            try await Task.sleep(for: .milliseconds(250))
        }
        await Self.progress(load: load, services: services)
        FileHandle.standardOutput.write(Data("\n".utf8))
        try await client.shutdown()
        await daemonGroup.triggerGracefulShutdown()
        try await daemonTask.value
        await serviceGroup.triggerGracefulShutdown()
        try await standTask.value
        try await Self.summary(directory: directory, services: services, expected: expected)
        if !keep { try? FileManager.default.removeItem(atPath: directory) }
    }

    static func configuration(directory: String, servicesPort: Int) throws -> DaemonConfiguration {
        func registration(_ id: String, namespace: String, extra: String) throws -> Registration {
            try Registration(yaml: """
                id: \(id)
                url: http://127.0.0.1:\(servicesPort)/\(id)
                as_token: as_demo_\(id)
                hs_token: hs_demo_\(id)
                sender_localpart: \(id)bot
                namespaces:
                  \(namespace)
                \(extra)
                """, file: "demo-\(id).yaml")
        }
        var configuration = DaemonConfiguration()
        configuration.dataDirectory = directory
        configuration.listenHost = "127.0.0.1"
        configuration.listenPort = 0
        configuration.ingestToken = UUID().uuidString
        configuration.segmentSizeBytes = 32 << 10
        configuration.backoff = BackoffPolicy(initial: .milliseconds(250), maximum: .seconds(2))
        configuration.registrations = [
            try registration("irc", namespace: "users: [{regex: \"@irc_.*\", exclusive: true}]", extra: ""),
            try registration("slack", namespace: "rooms: [{regex: \"!slack.*\", exclusive: false}]", extra: "receive_ephemeral: true"),
        ]
        return configuration
    }

    static func allDelivered(_ expected: [String: Set<Int>], _ services: DemoApplicationService) async -> Bool {
        let delivered = await services.delivered
        return expected.allSatisfy { delivered[$0.key, default: []].isSuperset(of: $0.value) }
    }

    /// One progress line: what was posted and delivered, and each service as the daemon sees it.
    static func progress(load: DemoLoad, services: DemoApplicationService) async {
        let delivered = await services.delivered.values.reduce(0) { $0 + $1.count }
        let states = (try? await load.serviceStates()) ?? []
        let line = "enqueued \(await load.enqueued)  delivered \(delivered)  refused attempts \(await services.refused)  "
            + states.joined(separator: "  ")
        FileHandle.standardOutput.write(Data("\r\(line)   ".utf8))
    }

    static func summary(directory: String, services: DemoApplicationService, expected: [String: Set<Int>]) async throws {
        print("delivered:")
        for (service, numbers) in expected.sorted(by: { $0.key < $1.key }) {
            let transactions = await services.transactions[service, default: []]
            print("  \(service): \(numbers.count) events in \(transactions.count) transactions (ids 1…\(transactions.max() ?? 0))")
        }
        let survey = try LogSurvey(directory: directory)
        let raw = survey.report.segments.reduce(0) { $0 + $1.rawPayloadBytes }
        let stored = survey.report.segments.reduce(0) { $0 + $1.storedPayloadBytes }
        print("the log it left (asched inspect): \(survey.report.segments.count) segments, \(survey.records) records, "
              + "\(survey.fileBytes) bytes, payload compression \(String(format: "%.2f", Double(raw) / Double(max(stored, 1))))x")
        for (type, count) in survey.countsByType.sorted(by: { $0.key < $1.key }) { print("  \(type): \(count)") }
        print(survey.hasErrors ? "verify: problems found" : "verify: every checksum, the chain and the replay check out")
    }
}
