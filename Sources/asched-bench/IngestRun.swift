import AppServiceHTTP
import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// HTTP ingest as a client of the daemon sees it: 16 connections posting batches of 10 events of
/// ~600 B (pseudo-random text, so nothing about them is regular), `fsync: always`, to a loopback
/// Swift application service; timed from the first request until the service has received every
/// event. `events` posts to `POST /_asched/v1/events` (routing), `relay` pushes homeserver
/// transactions into `PUT /_asched/v1/relay/bench/_matrix/app/v1/transactions/{txnId}`. The
/// daemon runs in this process (``BenchDaemon``) or, given the `asched` executable, as a child
/// process of its own (``AschedProcess``), whose resident memory is then the daemon's alone.
struct IngestRun {
    enum Mode: String, CaseIterable {
        case events, relay
    }

    struct Result {
        let eventsPerSecond: Double
        let p50: Double
        let p99: Double
        /// The daemon's resident memory (with the load generator and the service when they
        /// share its process) each time another tenth of the requests was answered: flat under
        /// sustained load if the first matches the rest.
        let residentMiB: [Int]
    }

    static let connections = 16
    static let eventsPerRequest = 10

    let mode: Mode
    let directory: String
    let requests: Int
    /// `asched` to run as the daemon's own process; nil runs the daemon in this one.
    let daemonBinary: String?
    /// Events per second the clients offer together, each request at its planned time (an
    /// open loop, as a homeserver's load is); nil posts each request once the last is answered.
    let offeredRate: Int?

    /// Counts delivered events by their `"event_id":"$` marker, so the service's own cost stays
    /// small and the same before and after a change to the daemon's JSON handling.
    final class Counter: Sendable {
        let delivered = Mutex(0)
        let answered = Mutex(0)
        let resident = Mutex<[Int]>([])
    }

    func run() async throws -> Result {
        try? FileManager.default.removeItem(atPath: directory)
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let counter = Counter()
        let (serviceGroup, listening) = Self.service(counter: counter, logger: logger)
        let serviceTask = Task { try await serviceGroup.run() }
        let servicePort = await listening.value()

        let daemon: (port: Int, resident: @Sendable () -> Int, stop: @Sendable () async throws -> Void)
        if let daemonBinary {
            let child = try await AschedProcess.start(binary: daemonBinary, directory: directory, servicePort: servicePort)
            daemon = (child.port, { child.residentMiB() }, { try await child.stop() })
        } else {
            let inProcess = try await BenchDaemon.start(directory: directory, servicePort: servicePort, logger: logger)
            daemon = (inProcess.port, { ReplayMemory.residentBytes() >> 20 }, { try await inProcess.stop() })
        }
        let port = daemon.port

        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(connectionPool: .init(
            idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: Self.connections)))
        let started = ContinuousClock.now
        let latencies = try await post(to: port, with: client, counter: counter, resident: daemon.resident)
        let expected = (requests / Self.connections) * Self.connections * Self.eventsPerRequest
        while counter.delivered.withLock({ $0 }) < expected { try await Task.sleep(for: .milliseconds(2)) }
        let elapsed = ContinuousClock.now - started
        try await client.shutdown()
        try await daemon.stop()
        await serviceGroup.triggerGracefulShutdown()
        try await serviceTask.value
        try? FileManager.default.removeItem(atPath: directory)
        let sorted = latencies.sorted()
        return Result(eventsPerSecond: Double(expected) / EndToEnd.seconds(elapsed),
                      p50: sorted[sorted.count / 2], p99: sorted[sorted.count * 99 / 100],
                      residentMiB: counter.resident.withLock { $0 })
    }

    private func post(to port: Int, with client: HTTPClient, counter: Counter,
                      resident: @escaping @Sendable () -> Int) async throws -> [Double] {
        let perConnection = requests / Self.connections
        let (mode, events) = (mode, Self.eventTails())
        let start = ContinuousClock.now
        let interval = offeredRate.map { Duration.seconds(Double(Self.connections * Self.eventsPerRequest) / Double($0)) }
        return try await withThrowingTaskGroup(of: [Double].self) { group in
            for connection in 0..<Self.connections {
                group.addTask {
                    var mine: [Double] = []
                    for index in 0..<perConnection {
                        // Paced, a request's latency counts from its planned time: one held up by a slow
                        // answer before it waited too.
                        let planned = interval.map { start + $0 * index + $0 * connection / Self.connections }
                        if let planned { try await Task.sleep(until: planned) }
                        let name = "c\(connection)r\(index)"
                        var request = HTTPClientRequest(url: mode == .events
                            ? "http://127.0.0.1:\(port)/_asched/v1/events"
                            : "http://127.0.0.1:\(port)/_asched/v1/relay/bench/_matrix/app/v1/transactions/\(name)")
                        request.method = mode == .events ? .POST : .PUT
                        request.headers.add(name: "Authorization", value: mode == .events ? "Bearer bench" : "Bearer h")
                        request.body = .bytes(ByteBuffer(bytes: Self.body(events: events, name: name)))
                        let sent = planned ?? ContinuousClock.now
                        let response = try await client.execute(request, timeout: .seconds(30))
                        _ = try await response.body.collect(upTo: 1 << 16)
                        precondition(response.status == .ok, "\(mode) answered \(response.status)")
                        mine.append(EndToEnd.milliseconds(ContinuousClock.now - sent))
                        if counter.answered.withLock({ $0 += 1; return $0 }) % (requests / 10) == 0 {
                            let now = resident()
                            counter.resident.withLock { $0.append(now) }
                        }
                    }
                    return mine
                }
            }
            var all: [Double] = []
            for try await part in group { all += part }
            return all
        }
    }

    /// Each event of a batch after its `event_id`: ~600 B serialized, as Foundation writes JSON
    /// (no spaces), with a body of pseudo-random words.
    static func eventTails() -> [[UInt8]] {
        var random = UInt64(0x9E37_79B9_7F4A_7C15)
        return (0..<eventsPerRequest).map { index in
            var words: [String] = []
            while words.joined(separator: " ").utf8.count < 440 {
                random = random &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                words.append(String(random >> 20, radix: 36))
            }
            let event: [String: Any] = [
                "type": "m.room.message", "sender": "@user\(index):bench.example", "room_id": "!room\(index % 3):bench.example",
                "origin_server_ts": 1_700_000_000_000 + index,
                "content": ["msgtype": "m.text", "body": words.joined(separator: " ")],
            ]
            let json = try! JSONSerialization.data(withJSONObject: event, options: [.sortedKeys])
            return Array(json.dropFirst())
        }
    }

    /// `{"events":[{"event_id":"$<name>e<i>",...},...]}`: unique event ids per request, so the
    /// relay stores every transaction as new data.
    static func body(events: [[UInt8]], name: String) -> [UInt8] {
        var body = Array(#"{"events":["#.utf8)
        for (index, tail) in events.enumerated() {
            if index > 0 { body.append(UInt8(ascii: ",")) }
            body += Array(#"{"event_id":"$\#(name)e\#(index)","#.utf8)
            body += tail
        }
        body += Array("]}".utf8)
        return body
    }

    private static func service(counter: Counter, logger: Logger) -> (ServiceGroup, ListeningPort) {
        let servicePort = ListeningPort()
        let router = Router()
        let marker = Array(#""event_id":"$"#.utf8)
        router.put("_matrix/app/v1/transactions/:txn") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 32 << 20)
            let count = body.withUnsafeReadableBytes { Self.occurrences(of: marker, in: $0) }
            counter.delivered.withLock { $0 += count }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: "{}")))
        }
        let service = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                                  onServerRunning: { await servicePort.set($0.localAddress!.port!) }, logger: logger)
        return (ServiceGroup(configuration: .init(services: [service], logger: logger)), servicePort)
    }

    static func occurrences(of marker: [UInt8], in bytes: UnsafeRawBufferPointer) -> Int {
        guard bytes.count >= marker.count else { return 0 }
        var (count, index) = (0, 0)
        while index <= bytes.count - marker.count {
            if bytes[index] == marker[0] && marker.indices.allSatisfy({ bytes[index + $0] == marker[$0] }) {
                count += 1
                index += marker.count
            } else {
                index += 1
            }
        }
        return count
    }
}
