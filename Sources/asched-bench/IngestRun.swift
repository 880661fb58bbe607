import AppServiceHTTP
import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// HTTP ingest as a client of the daemon sees it: 16 connections posting batches of 10 events of
/// ~600 B (pseudo-random text, so nothing about them is regular) to a loopback Swift application
/// service; timed from the first request until the service has received every event. `events`
/// posts to `POST /_asched/v1/events` (routing), `relay` pushes homeserver transactions into
/// `PUT /_asched/v1/relay/bench/_matrix/app/v1/transactions/{txnId}`. The daemon runs in this
/// process (``BenchDaemon``), or as `asched serve` in processes of their own (``AschedProcess``):
/// one on the embedded log (`fsync: always`), or one or several instances sharing a PostgreSQL
/// database, the clients' requests spread round-robin over them.
struct IngestRun {
    enum Mode: String, CaseIterable {
        case events, relay
    }

    /// Which daemon, and where it stores its records.
    enum Daemon {
        /// ``BenchDaemon``, in this process.
        case inProcess
        /// `asched serve` (this executable) on the embedded log.
        case embedded(binary: String)
        /// `instances` processes of `asched serve` (this executable) on the database at `url`;
        /// the first takes the writer lease, the others start as standbys.
        case postgres(binary: String, url: String, instances: Int)
    }

    struct Result {
        let eventsPerSecond: Double
        let p50: Double
        let p99: Double
        /// The daemon's resident memory (with the load generator and the service when they
        /// share its process; the first instance's on PostgreSQL) each time another tenth of the
        /// requests was answered: flat under sustained load if the first matches the rest.
        let residentMiB: [Int]
        /// Answers 503 (a standby, or an instance that lost the database or the lease), each
        /// retried on the next instance.
        let unavailable: Int
        /// Requests that got no answer or another error status (only counted, and retried, when
        /// the run kills instances).
        let unanswered: Int
    }

    static let connections = 16
    static let eventsPerRequest = 10
    /// The wait before a request answered 503 (or unanswered) goes to the next instance: short,
    /// so a standby's refusal costs a client little, against the answer's `Retry-After: 1`,
    /// which is meant for one instance alone.
    static let retryDelay = Duration.milliseconds(5)

    let mode: Mode
    let directory: String
    /// Requests in all; with `beside`, at most that many (the load stops when `beside` returns).
    let requests: Int
    let daemon: Daemon
    /// Events per second the clients offer together, each request at its planned time (an
    /// open loop, as a homeserver's load is); nil posts each request once the last is answered.
    let offeredRate: Int?
    /// Runs beside the load once the instances are up (kills them, samples the database); the
    /// load stops when it returns.
    var beside: (@Sendable (Instances, Counter) async throws -> Void)? = nil
    /// Whether an unanswered request is posted again to the next instance (a run that kills
    /// instances) instead of failing the run. An `/events` post that committed without an
    /// answer is then delivered twice, under two ids: fine for timing a failover, not for a
    /// check of exactly-once.
    var retryUnanswered = false

    /// Counts delivered events by their `"event_id":"$` marker, so the service's own cost stays
    /// small and the same before and after a change to the daemon's JSON handling.
    final class Counter: Sendable {
        let delivered = Mutex(0)
        let answered = Mutex(0)
        let resident = Mutex<[Int]>([])
        let unavailable = Mutex(0)
        let unanswered = Mutex(0)
        let stopped = Mutex(false)
        /// Set by a failover measurement once the killed process is gone: the first 200 to a
        /// request sent after `since`, and the first delivery the service began to receive after it.
        let failover = Mutex<(since: ContinuousClock.Instant, acknowledged: ContinuousClock.Instant?,
                              delivered: ContinuousClock.Instant?)?>(nil)
    }

    /// The `asched serve` processes of a run, replaced in place when one is restarted.
    final class Instances: Sendable {
        private let processes: Mutex<[AschedProcess]>
        /// Their HTTP ports, which a restart keeps.
        let ports: [Int]

        init(_ processes: [AschedProcess]) {
            self.processes = Mutex(processes)
            ports = processes.map(\.port)
        }

        subscript(index: Int) -> AschedProcess { processes.withLock { $0[index] } }

        /// SIGKILLs instance `index` and returns once it is gone.
        func kill(_ index: Int) async {
            await self[index].kill()
        }

        /// Starts instance `index` again (same port and name) and waits until it listens.
        func restart(_ index: Int) async throws {
            let fresh = try await self[index].restarted(ready: .listening)
            processes.withLock { $0[index] = fresh }
        }

        /// The instance that delivers: the `owner` that `GET /_asched/v1/services` names, asked
        /// of each instance until one answers (a standby may refuse, or forward the question).
        func owner() async throws -> Int {
            let deadline = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < deadline {
                for port in ports {
                    var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/_asched/v1/services")
                    request.headers.add(name: "Authorization", value: "Bearer bench")
                    guard let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(2)),
                          let body = try? await response.body.collect(upTo: 1 << 20), response.status == .ok,
                          let object = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any],
                          let owner = (object["services"] as? [[String: Any]])?.first?["owner"] as? String,
                          let index = processes.withLock({ $0.firstIndex { $0.name == owner } }) else { continue }
                    return index
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            throw AschedProcess.Failure(description: "no instance named the owner of service bench within 60 s")
        }

        /// SIGTERM to each, as an operator stops them.
        func stop() async throws {
            for process in processes.withLock({ $0 }) { try await process.stop() }
        }
    }

    func run() async throws -> Result {
        try? FileManager.default.removeItem(atPath: directory)
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let counter = Counter()
        let (serviceGroup, listening) = Self.service(counter: counter, logger: logger)
        let serviceTask = Task { try await serviceGroup.run() }
        let servicePort = await listening.value()

        let ports: [Int], resident: @Sendable () -> Int, stop: @Sendable () async throws -> Void
        let instances: Instances?
        switch daemon {
        case .inProcess:
            let inProcess = try await BenchDaemon.start(directory: directory, servicePort: servicePort, logger: logger)
            (ports, resident, stop, instances) = ([inProcess.port], { ReplayMemory.residentBytes() >> 20 }, { try await inProcess.stop() }, nil)
        case .embedded(let binary):
            let child = try await AschedProcess.start(binary: binary, base: directory, store: .embedded(directory: directory),
                                                      servicePort: servicePort)
            let started = Instances([child])
            (ports, resident, stop, instances) = (started.ports, { started[0].residentMiB() }, { try await started.stop() }, started)
        case .postgres(let binary, let url, let count):
            // The first takes the lease; the others, started once it has, stand by.
            var processes: [AschedProcess] = []
            for index in 0..<count {
                processes.append(try await AschedProcess.start(
                    binary: binary, base: directory + "/asched-\(index + 1)",
                    store: .postgres(url: url, instanceName: "bench-\(index + 1)"), servicePort: servicePort,
                    ready: index == 0 ? .active : .listening))
            }
            let started = Instances(processes)
            (ports, resident, stop, instances) = (started.ports, { started[0].residentMiB() }, { try await started.stop() }, started)
        }

        var configuration = HTTPClient.Configuration(connectionPool: .init(
            idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: Self.connections))
        // A killed instance's port refuses at once: the request goes to the next instance then,
        // not after the connect timeout (10 s) of retried connection attempts.
        configuration.connectionPool.retryConnectionEstablishment = false
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let started = ContinuousClock.now
        var besideTask: Task<Void, any Error>?
        if let beside, let instances {
            besideTask = Task {
                defer { counter.stopped.withLock { $0 = true } }
                try await beside(instances, counter)
            }
        }
        let latencies: [Double]
        do {
            latencies = try await post(to: ports, with: client, counter: counter, resident: resident)
            try await besideTask?.value
        } catch {
            besideTask?.cancel()
            try? await client.shutdown()
            try? await stop()
            await serviceGroup.triggerGracefulShutdown()
            throw error
        }
        let expected = counter.answered.withLock { $0 } * Self.eventsPerRequest
        let deadline = ContinuousClock.now + .seconds(300)
        while counter.delivered.withLock({ $0 }) < expected {
            guard ContinuousClock.now < deadline else {
                throw AschedProcess.Failure(description: "\(counter.delivered.withLock { $0 }) of \(expected) acknowledged events delivered 300 s after the last answer")
            }
            try await Task.sleep(for: .milliseconds(2))
        }
        let elapsed = ContinuousClock.now - started
        try await client.shutdown()
        try await stop()
        await serviceGroup.triggerGracefulShutdown()
        try await serviceTask.value
        try? FileManager.default.removeItem(atPath: directory)
        let sorted = latencies.sorted()
        return Result(eventsPerSecond: Double(expected) / EndToEnd.seconds(elapsed),
                      p50: sorted[sorted.count / 2], p99: sorted[sorted.count * 99 / 100],
                      residentMiB: counter.resident.withLock { $0 },
                      unavailable: counter.unavailable.withLock { $0 }, unanswered: counter.unanswered.withLock { $0 })
    }

    private func post(to ports: [Int], with client: HTTPClient, counter: Counter,
                      resident: @escaping @Sendable () -> Int) async throws -> [Double] {
        let perConnection = requests / Self.connections
        let (mode, events, retryUnanswered) = (mode, Self.eventTails(), retryUnanswered)
        let start = ContinuousClock.now
        let interval = offeredRate.map { Duration.seconds(Double(Self.connections * Self.eventsPerRequest) / Double($0)) }
        let tenth = max(1, requests / 10)
        return try await withThrowingTaskGroup(of: [Double].self) { group in
            for connection in 0..<Self.connections {
                group.addTask {
                    var mine: [Double] = []
                    for index in 0..<perConnection {
                        guard !counter.stopped.withLock({ $0 }) else { break }
                        // Paced, a request's latency counts from its planned time: one held up by a slow
                        // answer before it waited too.
                        let planned = interval.map { start + $0 * index + $0 * connection / Self.connections }
                        if let planned { try await Task.sleep(until: planned) }
                        let name = "c\(connection)r\(index)"
                        let body = ByteBuffer(bytes: Self.body(events: events, name: name))
                        let sent = planned ?? ContinuousClock.now
                        // Round-robin: each request to the next instance, a refused one to the one after.
                        var target = (connection + index) % ports.count
                        while true {
                            var request = HTTPClientRequest(url: mode == .events
                                ? "http://127.0.0.1:\(ports[target])/_asched/v1/events"
                                : "http://127.0.0.1:\(ports[target])/_asched/v1/relay/bench/_matrix/app/v1/transactions/\(name)")
                            request.method = mode == .events ? .POST : .PUT
                            request.headers.add(name: "Authorization", value: mode == .events ? "Bearer bench" : "Bearer h")
                            request.body = .bytes(body)
                            let attempt = ContinuousClock.now
                            let status: UInt
                            do {
                                let response = try await client.execute(request, timeout: .seconds(30))
                                _ = try await response.body.collect(upTo: 1 << 16)
                                status = response.status.code
                            } catch {
                                guard retryUnanswered else { throw error }
                                status = 0
                            }
                            if status == 200 {
                                counter.failover.withLock {
                                    if let since = $0?.since, attempt > since, $0?.acknowledged == nil { $0?.acknowledged = .now }
                                }
                                break
                            }
                            if status == 503 {
                                counter.unavailable.withLock { $0 += 1 }
                            } else {
                                precondition(retryUnanswered, "\(mode) answered \(status)")
                                counter.unanswered.withLock { $0 += 1 }
                            }
                            try await Task.sleep(for: Self.retryDelay)
                            target = (target + 1) % ports.count
                        }
                        mine.append(EndToEnd.milliseconds(ContinuousClock.now - sent))
                        if counter.answered.withLock({ $0 += 1; return $0 }) % tenth == 0 {
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
            // Its arrival, before the body: a request begun after a killed instance was gone is
            // the new owner's.
            let arrived = ContinuousClock.now
            counter.failover.withLock {
                if let since = $0?.since, arrived > since, $0?.delivered == nil { $0?.delivered = arrived }
            }
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
