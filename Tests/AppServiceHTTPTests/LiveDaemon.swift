import AppServiceHTTP
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Testing

/// A daemon run in the test process on real sockets (port 0 on loopback), until ``stop()``: for
/// what the in-memory test client cannot show, such as TLS, a second listener or a reload.
final class LiveDaemon: Sendable {
    /// The port `listen` bound.
    let port: Int
    /// The port `metrics_listen` bound; nil without one.
    let metricsPort: Int?
    private let group: ServiceGroup
    private let running: Task<Void, any Error>

    private init(port: Int, metricsPort: Int?, group: ServiceGroup, running: Task<Void, any Error>) {
        self.port = port
        self.metricsPort = metricsPort
        self.group = group
        self.running = running
    }

    /// Builds the daemon of `configuration` (its `listen` port should be 0), starts it, and
    /// returns once it listens.
    static func start(_ configuration: DaemonConfiguration, reloader: RegistrationReloader? = nil) async throws -> LiveDaemon {
        let port = ListeningPort()
        let metricsPort = ListeningPort()
        let app = try await Daemon.buildApplication(
            configuration: configuration, logger: Logger(label: "live-daemon"), reloader: reloader,
            onServerRunning: { await port.set($0) }, onMetricsServerRunning: { await metricsPort.set($0) })
        let group = ServiceGroup(configuration: .init(services: [app], logger: Logger(label: "live-daemon")))
        let running = Task { try await group.run() }
        let bound = await port.value()
        let metricsBound = configuration.metricsListen == nil ? nil : await metricsPort.value()
        return LiveDaemon(port: bound, metricsPort: metricsBound, group: group, running: running)
    }

    /// Runs the daemon of `configuration` and a client to it until `body` returns, then stops
    /// both; an error of `body` is recorded as the test's issue.
    static func run(_ configuration: DaemonConfiguration, reloader: RegistrationReloader? = nil,
                    _ body: (LiveDaemon, HTTPClient) async throws -> Void) async throws {
        let daemon = try await start(configuration, reloader: reloader)
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            try await body(daemon, client)
        } catch {
            Issue.record("\(error)")
        }
        try await client.shutdown()
        try await daemon.stop()
    }

    /// Shuts the daemon down as SIGTERM would, and waits until it has.
    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await running.value
    }
}

/// An answer read whole: status and body.
struct HTTPAnswer: Sendable {
    let status: Int
    let body: String

    /// The body as a JSON object; empty when it is not one.
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
    }
}

extension HTTPClient {
    /// Sends `method` to `url` with `bearer` as the token and `body`, and reads the whole answer.
    func answer(_ method: HTTPMethod = .GET, _ url: String, bearer: String? = nil, body: String? = nil,
                timeout: TimeAmount = .seconds(10)) async throws -> HTTPAnswer {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let bearer { request.headers.add(name: "Authorization", value: "Bearer \(bearer)") }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await execute(request, timeout: timeout)
        let bytes = try await response.body.collect(upTo: 16 << 20)
        return HTTPAnswer(status: Int(response.status.code), body: String(buffer: bytes))
    }
}
