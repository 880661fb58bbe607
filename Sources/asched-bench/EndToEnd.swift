import AppServiceHTTP
import AppServiceScheduler
import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// 16 clients posting batches of 10 events to `/_asched/v1/events`, through the log (fsync
/// always) to a loopback Swift application service; measures until the last event is delivered.
struct EndToEnd {
    struct Result {
        let eventsPerSecond: Double
        let p50: Double
        let p99: Double
    }

    let directory: String
    let requests: Int

    final class Counter: Sendable {
        let delivered = Mutex(0)
    }

    func run() async throws -> Result {
        try? FileManager.default.removeItem(atPath: directory)
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let counter = Counter()
        let servicePort = ListeningPort()
        let router = Router()
        router.put("_matrix/app/v1/transactions/:txn") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 32 << 20)
            let events = (try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any])?["events"] as? [Any]
            counter.delivered.withLock { $0 += events?.count ?? 0 }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: "{}")))
        }
        let service = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                                  onServerRunning: { await servicePort.set($0.localAddress!.port!) }, logger: logger)
        let serviceGroup = ServiceGroup(configuration: .init(services: [service], logger: logger))
        let serviceTask = Task { try await serviceGroup.run() }

        let daemon = try await BenchDaemon.start(directory: directory, servicePort: await servicePort.value(), logger: logger)
        let port = daemon.port

        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 16)))
        let body = try JSONSerialization.data(withJSONObject: ["events": (0..<10).map { index in
            ["type": "m.room.message", "sender": "@user\(index):bench.example", "room_id": "!room:bench.example",
             "content": ["msgtype": "m.text", "body": "benchmark event number \(index) with some text"]]
        }])
        let started = ContinuousClock.now
        let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
            for _ in 0..<16 {
                group.addTask {
                    var mine: [Double] = []
                    for _ in 0..<(requests / 16) {
                        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/_asched/v1/events")
                        request.method = .POST
                        request.headers.add(name: "Authorization", value: "Bearer bench")
                        request.body = .bytes(ByteBuffer(bytes: body))
                        let sent = ContinuousClock.now
                        let response = try await client.execute(request, timeout: .seconds(30))
                        _ = try await response.body.collect(upTo: 1 << 16)
                        precondition(response.status == .ok, "enqueue answered \(response.status)")
                        mine.append(Self.milliseconds(ContinuousClock.now - sent))
                    }
                    return mine
                }
            }
            var all: [Double] = []
            for try await part in group { all += part }
            return all
        }
        let expected = (requests / 16) * 16 * 10
        while counter.delivered.withLock({ $0 }) < expected { try await Task.sleep(for: .milliseconds(2)) }
        let elapsed = ContinuousClock.now - started
        try await client.shutdown()
        try await daemon.stop()
        await serviceGroup.triggerGracefulShutdown()
        try await serviceTask.value
        let sorted = latencies.sorted()
        return Result(eventsPerSecond: Double(expected) / Self.seconds(elapsed),
                      p50: sorted[sorted.count / 2], p99: sorted[sorted.count * 99 / 100])
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func milliseconds(_ duration: Duration) -> Double { seconds(duration) * 1000 }
}
