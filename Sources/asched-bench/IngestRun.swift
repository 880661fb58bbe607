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
/// transactions into `PUT /_asched/v1/relay/bench/_matrix/app/v1/transactions/{txnId}`.
struct IngestRun {
    enum Mode: String, CaseIterable {
        case events, relay
    }

    struct Result {
        let eventsPerSecond: Double
        let p50: Double
        let p99: Double
        /// The process's resident memory (daemon, load generator and service) when a tenth of
        /// the requests were answered, and at the end: flat under sustained load if they match.
        let residentMiBAtFirstTenth: Int
        let residentMiBAtEnd: Int
    }

    static let connections = 16
    static let eventsPerRequest = 10

    let mode: Mode
    let directory: String
    let requests: Int

    /// Counts delivered events by their `"event_id":"$` marker, so the service's own cost stays
    /// small and the same before and after a change to the daemon's JSON handling.
    final class Counter: Sendable {
        let delivered = Mutex(0)
        let answered = Mutex(0)
        let residentAtFirstTenth = Mutex(0)
    }

    func run() async throws -> Result {
        try? FileManager.default.removeItem(atPath: directory)
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let counter = Counter()
        let (serviceGroup, listening) = Self.service(counter: counter, logger: logger)
        let serviceTask = Task { try await serviceGroup.run() }
        let servicePort = await listening.value()

        let daemon = try await BenchDaemon.start(directory: directory, servicePort: servicePort, logger: logger)
        let port = daemon.port

        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(connectionPool: .init(
            idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: Self.connections)))
        let started = ContinuousClock.now
        let latencies = try await post(to: port, with: client, counter: counter)
        let expected = (requests / Self.connections) * Self.connections * Self.eventsPerRequest
        while counter.delivered.withLock({ $0 }) < expected { try await Task.sleep(for: .milliseconds(2)) }
        let elapsed = ContinuousClock.now - started
        try await client.shutdown()
        try await daemon.stop()
        await serviceGroup.triggerGracefulShutdown()
        try await serviceTask.value
        let residentAtEnd = Self.residentMiB()
        try? FileManager.default.removeItem(atPath: directory)
        let sorted = latencies.sorted()
        return Result(eventsPerSecond: Double(expected) / EndToEnd.seconds(elapsed),
                      p50: sorted[sorted.count / 2], p99: sorted[sorted.count * 99 / 100],
                      residentMiBAtFirstTenth: counter.residentAtFirstTenth.withLock { $0 }, residentMiBAtEnd: residentAtEnd)
    }

    private func post(to port: Int, with client: HTTPClient, counter: Counter) async throws -> [Double] {
        let perConnection = requests / Self.connections
        let (mode, events) = (mode, Self.eventTails())
        return try await withThrowingTaskGroup(of: [Double].self) { group in
            for connection in 0..<Self.connections {
                group.addTask {
                    var mine: [Double] = []
                    for index in 0..<perConnection {
                        let name = "c\(connection)r\(index)"
                        var request = HTTPClientRequest(url: mode == .events
                            ? "http://127.0.0.1:\(port)/_asched/v1/events"
                            : "http://127.0.0.1:\(port)/_asched/v1/relay/bench/_matrix/app/v1/transactions/\(name)")
                        request.method = mode == .events ? .POST : .PUT
                        request.headers.add(name: "Authorization", value: mode == .events ? "Bearer bench" : "Bearer h")
                        request.body = .bytes(ByteBuffer(bytes: Self.body(events: events, name: name)))
                        let sent = ContinuousClock.now
                        let response = try await client.execute(request, timeout: .seconds(30))
                        _ = try await response.body.collect(upTo: 1 << 16)
                        precondition(response.status == .ok, "\(mode) answered \(response.status)")
                        mine.append(EndToEnd.milliseconds(ContinuousClock.now - sent))
                        if counter.answered.withLock({ $0 += 1; return $0 }) == requests / 10 {
                            counter.residentAtFirstTenth.withLock { $0 = Self.residentMiB() }
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

    /// This process's resident memory now (VmRSS), in MiB.
    static func residentMiB() -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let kib = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }?
            .split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return kib >> 10
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
