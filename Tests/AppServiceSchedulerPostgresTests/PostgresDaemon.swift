import AppServiceHTTP
import AppServiceSchedulerPostgres
import AppServiceSchedulerTesting
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Testing

/// `asched serve` on a PostgreSQL database, run in the test process on real sockets (port 0 on
/// loopback), its deliveries going to a ``ScriptedTransport``.
final class PostgresDaemon: Sendable {
    static let registration = """
        id: bridge
        url: "http://127.0.0.1:9/"
        as_token: as_bridge_token
        hs_token: hs_bridge_token
        sender_localpart: bridgebot
        namespaces:
          users:
            - exclusive: true
              regex: '@bridge_.*:example\\.org'
        """

    let port: Int
    let transport: ScriptedTransport
    let client: HTTPClient
    private let group: ServiceGroup
    private let running: Task<Void, any Error>

    private init(port: Int, transport: ScriptedTransport, group: ServiceGroup, running: Task<Void, any Error>) {
        self.port = port
        self.transport = transport
        self.group = group
        self.running = running
        client = HTTPClient(eventLoopGroupProvider: .singleton)
    }

    /// The configuration of an instance named `instance` on `database`, the URL (password
    /// included) given through the environment as the documentation advises, with the
    /// registration of "bridge" in a scratch directory.
    static func configuration(_ database: PostgresDatabaseURL, instance: String) throws -> DaemonConfiguration {
        let directory = FileManager.default.temporaryDirectory.path + "/asched-postgres-daemon/" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try registration.write(toFile: directory + "/bridge.yaml", atomically: true, encoding: .utf8)
        var configuration = try DaemonConfiguration(yaml: "listen: 127.0.0.1:0\ninstance_name: \(instance)\nregistrations: [bridge.yaml]",
                                                    file: directory + "/asched.yaml",
                                                    environment: [DaemonConfiguration.databaseURLVariable: urlWithPassword(database)])
        // Tests run side by side on two cores: a renewal may wait seconds for a thread, and these
        // tests are not about expiry (PostgresFailoverTests is, with the real duration).
        configuration.leaseDuration = .seconds(60)
        return configuration
    }

    static func urlWithPassword(_ url: PostgresDatabaseURL) -> String {
        "postgres://\(url.user):\(url.password ?? "")@\(url.host):\(url.port)/\(url.database)"
    }

    /// Starts the daemon of `configuration` and returns once it listens.
    static func start(_ configuration: DaemonConfiguration) async throws -> PostgresDaemon {
        let port = ListeningPort()
        let transport = ScriptedTransport()
        let logger = Logger(label: "postgres-daemon", factory: { _ in SwiftLogNoOpLogHandler() })
        let app = try await Daemon.buildApplication(configuration: configuration, logger: logger, transport: transport,
                                                    onServerRunning: { await port.set($0) })
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let running = Task { try await group.run() }
        return PostgresDaemon(port: await port.value(), transport: transport, group: group, running: running)
    }

    /// Shuts the daemon down as SIGTERM would, and waits until it has.
    func stop() async throws {
        try await client.shutdown()
        await group.triggerGracefulShutdown()
        try await running.value
    }

    /// Sends `method` to `path` on the daemon and reads the whole answer: its status and its body as JSON.
    func answer(_ method: HTTPMethod = .GET, _ path: String, body: String? = nil) async throws -> (status: Int, json: [String: Any]) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await client.execute(request, timeout: .seconds(60))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        let json = (try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView))) as? [String: Any] ?? [:]
        return (Int(response.status.code), json)
    }

    /// Enqueues one event numbered `number` for "bridge"; the answer's status and position.
    func enqueue(_ number: Int) async throws -> (status: Int, position: Int?) {
        let answer = try await answer(.POST, "/_asched/v1/services/bridge/enqueue",
                                      body: #"{"events": [{"type": "m.room.message", "content": {"body": "event \#(number)"}}]}"#)
        return (answer.status, answer.json["position"] as? Int)
    }

    /// The "bridge" entry of `GET /_asched/v1/services`.
    func bridgeStatus() async throws -> [String: Any] {
        let services = try await answer(.GET, "/_asched/v1/services").json["services"] as? [[String: Any]] ?? []
        return try #require(services.first { $0["id"] as? String == "bridge" })
    }

    /// Whether the transport saw transaction `id` of "bridge" delivered.
    func delivered(_ id: UInt64) -> Bool {
        transport.attempts.contains { $0.service == "bridge" && $0.id == id }
    }
}
