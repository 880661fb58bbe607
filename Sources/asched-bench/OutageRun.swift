import AppServiceHTTP
import AppServiceScheduler
import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import SegmentLog
import ServiceLifecycle
import Synchronization

/// An outage and its catch-up. 16 clients post batches of 10 events (~600 B each) to
/// `/_asched/v1/events` while service `down` answers 500, until `backlog` events are queued for
/// it; `upPerRequest` of each batch's events go to service `up`, which stays up, so the log
/// interleaves the backlog with records compaction may drop. Then the daemon stops; a fresh
/// process opens the data directory holding the backlog (the restart's memory); the daemon
/// starts again, `down` comes back, a forced retry starts the drain, and the run ends when
/// `down` has received every event. The daemon runs in a child process (``OutageDaemon``) so
/// that its resident memory is its own, not the load generator's or the services'.
struct OutageRun {
    static let token = "bench"

    struct Compactions {
        var count = 0
        /// Bytes of the compacted segments written (each report's `bytesWritten`).
        var written = 0
        /// Bytes the log shrank by (each report's `bytesBefore - bytesAfter`).
        var reclaimed = 0
        var segmentsReplaced = 0
        /// Compactions that started and had not ended when the daemon stopped.
        var unfinished = 0

        init(lines: [String]) {
            unfinished = lines.filter { $0.hasPrefix("compaction-started ") }.count
                - lines.filter { $0.hasPrefix("compacted ") }.count
            for line in lines where line.hasPrefix("compacted ") {
                let fields = line.split(separator: " ").dropFirst().prefix(4).compactMap { Int($0) }
                guard fields.count == 4 else { continue }
                count += 1
                written += fields[0]
                reclaimed += fields[1] - fields[2]
                segmentsReplaced += fields[3]
            }
        }
    }

    struct Result {
        let backlog: Int
        let postedEvents: Int
        let outageSeconds: Double
        let outagePeakRSS: Int
        let restart: Probe
        let catchUpPeakRSS: Int
        let drainedEvents: Int
        let drainSeconds: Double
        /// Events/s over the first 10,000 events of the drain, from the first transaction's arrival.
        let firstTenThousandRate: Double?
        let transactions: Int
        let fullTransactions: Int
        let outageCompactions: Compactions
        let drainCompactions: Compactions
        /// Bytes appended to the log (the log's growth plus what compaction took away).
        let ingestedBytes: Int
        /// The log's size once the backlog is drained, before the daemon stops.
        let logBytesAfterDrain: Int
        /// Events/s over each tenth of the drain, in order: flat if forming a transaction costs
        /// the same whatever the backlog left.
        let drainCurve: [Double]

        var enqueueRate: Double { Double(postedEvents) / outageSeconds }
        var drainRate: Double { Double(drainedEvents) / drainSeconds }
        var writeAmplification: Double {
            Double(outageCompactions.written + drainCompactions.written) / Double(ingestedBytes)
        }
    }

    /// What the restart probe (`asched-bench --outage-probe DIR`) reports.
    struct Probe {
        let peakRSS: Int
        let openSeconds: Double
        /// Items queued or pending in the replayed state.
        let items: Int
        /// Frame bytes of the records the state still reads items from.
        let liveBytes: Int
        let logBytes: Int
        /// Payload bytes of the checkpoint a compaction would append for this state.
        let checkpointBytes: Int
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    let directory: String
    let backlog: Int
    let upPerRequest: Int
    let drainTimeout: Duration

    func run() async throws -> Result {
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let data = directory + "/data"
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let service = OutageService()
        let servicePort = ListeningPort()
        let serviceGroup = ServiceGroup(configuration: .init(services: [service.application(port: servicePort, logger: logger)],
                                                             logger: logger))
        let serviceTask = Task { try await serviceGroup.run() }
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(
            connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 16)))
        let asPort = await servicePort.value()
        var daemon: DaemonProcess?
        do {
            // The outage.
            let outage = try await DaemonProcess.start(directory: data, servicePort: asPort)
            daemon = outage
            let outageAPI = DaemonAPI(client: client, port: outage.port)
            let logBytesAtStart = try await outageAPI.logBytes()
            let started = ContinuousClock.now
            let posted = try await post(client: client, port: outage.port)
            let outageSeconds = EndToEnd.seconds(ContinuousClock.now - started)
            try await until(.seconds(120), "up received its \(posted.up) events") {
                service.received.withLock { $0.upEvents } >= posted.up
            }
            let logBytesAtOutageEnd = try await outageAPI.logBytes()
            let outagePeakRSS = outage.peakResidentBytes
            let outageCompactions = Compactions(lines: try await outage.stop())
            daemon = nil

            // The restart: a fresh process opens the directory with the backlog in it.
            let restart = try Self.runProbe(directory: data)
            guard restart.items >= posted.down else {
                throw Failure(description: "the restart found \(restart.items) items queued for down, not \(posted.down)")
            }

            // The catch-up, in a daemon started again.
            let catchUp = try await DaemonProcess.start(directory: data, servicePort: asPort)
            daemon = catchUp
            let catchUpAPI = DaemonAPI(client: client, port: catchUp.port)
            let logBytesAtDrainStart = try await catchUpAPI.logBytes()
            service.bringBack()
            // A retry already under way (and failing) makes a forced retry a no-op: force again
            // until the first transaction of the drain arrives.
            while service.received.withLock({ $0.arrivals.isEmpty }) {
                try await catchUpAPI.retry("down")
                try? await until(.seconds(1), "") { !service.received.withLock { $0.arrivals.isEmpty } }
            }
            try? await until(drainTimeout, "") { service.received.withLock { $0.downEvents } >= posted.down }
            let received = service.received.withLock { $0 }
            let catchUpPeakRSS = catchUp.peakResidentBytes
            let logBytesAtEnd = try await catchUpAPI.logBytes()
            let drainCompactions = Compactions(lines: try await catchUp.stop())
            daemon = nil
            if received.downEvents < posted.down {
                FileHandle.standardError.write(Data("outage: drain timed out with \(received.downEvents) of \(posted.down) events received\n".utf8))
            }
            // From the first transaction's arrival, so that the retry's round trip and the first
            // send's connection do not count: what remains is forming and sending transactions.
            var cumulative = 0
            let tenThousandth = received.arrivals.first { arrival in
                cumulative += arrival.events
                return cumulative >= 10_000
            }
            let firstTenThousandRate = tenThousandth.flatMap { last in
                received.arrivals.first.map { first in Double(cumulative - first.events) / (last.seconds - first.seconds) }
            }
            try await client.shutdown()
            await serviceGroup.triggerGracefulShutdown()
            try await serviceTask.value
            return Result(
                backlog: posted.down, postedEvents: posted.down + posted.up, outageSeconds: outageSeconds,
                outagePeakRSS: outagePeakRSS, restart: restart, catchUpPeakRSS: catchUpPeakRSS,
                drainedEvents: received.downEvents, drainSeconds: received.arrivals.last?.seconds ?? .infinity,
                firstTenThousandRate: firstTenThousandRate, transactions: received.arrivals.count,
                fullTransactions: received.downFullTransactions, outageCompactions: outageCompactions,
                drainCompactions: drainCompactions,
                ingestedBytes: logBytesAtOutageEnd - logBytesAtStart + outageCompactions.reclaimed
                    + logBytesAtEnd - logBytesAtDrainStart + drainCompactions.reclaimed,
                logBytesAfterDrain: logBytesAtEnd, drainCurve: Self.curve(received.arrivals, tenths: posted.down / 10))
        } catch {
            daemon?.process.terminate()
            try? await client.shutdown()
            await serviceGroup.triggerGracefulShutdown()
            _ = try? await serviceTask.value
            throw error
        }
    }

    /// Events/s over consecutive spans of `tenths` events of `arrivals`.
    static func curve(_ arrivals: [OutageService.Arrival], tenths: Int) -> [Double] {
        var rates: [Double] = []
        var (start, events) = (arrivals.first?.seconds ?? 0, 0)
        for arrival in arrivals.dropFirst() {
            events += arrival.events
            if events >= tenths {
                rates.append(Double(events) / (arrival.seconds - start))
                (start, events) = (arrival.seconds, 0)
            }
        }
        return rates
    }

    /// Posts batches of 10 events from 16 clients until `backlog` events are routed to `down`;
    /// returns how many went to each service.
    private func post(client: HTTPClient, port: Int) async throws -> (down: Int, up: Int) {
        let clients = 16
        let downPerRequest = 10 - upPerRequest
        let requestsPerClient = (backlog + clients * downPerRequest - 1) / (clients * downPerRequest)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for number in 0..<clients {
                let bodies = Self.bodies(client: number, upPerRequest: upPerRequest)
                group.addTask {
                    for sent in 0..<requestsPerClient {
                        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/_asched/v1/events")
                        request.method = .POST
                        request.headers.add(name: "Authorization", value: "Bearer \(Self.token)")
                        request.body = .bytes(bodies[sent % bodies.count])
                        let response = try await client.execute(request, timeout: .seconds(60))
                        _ = try await response.body.collect(upTo: 1 << 16)
                        guard response.status == .ok else { throw Failure(description: "enqueue answered \(response.status)") }
                    }
                }
            }
            try await group.waitForAll()
        }
        return (requestsPerClient * clients * downPerRequest, requestsPerClient * clients * upPerRequest)
    }

    /// A few request bodies for one client: 10 events of ~600 B, `upPerRequest` of them from an
    /// `up` sender, with pseudo-random text so that LZ4 cannot shrink the backlog away.
    private static func bodies(client: Int, upPerRequest: Int) -> [ByteBuffer] {
        var state = UInt64(client + 1) &* 0x9E37_79B9_7F4A_7C15
        func padding() -> String {
            String((0..<480).map { _ in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return Character(UnicodeScalar(UInt8(97 + (state >> 59))))
            })
        }
        return (0..<8).map { _ in
            let events = (0..<10).map { index in
                // Spread evenly through the batch: exactly `upPerRequest` indices satisfy this.
                let sender = index * upPerRequest % 10 < upPerRequest ? "@up_\(client):bench.example" : "@down_\(client):bench.example"
                return "{\"type\":\"m.room.message\",\"sender\":\"\(sender)\",\"room_id\":\"!room\(client):bench.example\","
                    + "\"content\":{\"msgtype\":\"m.text\",\"body\":\"\(padding())\"}}"
            }
            return ByteBuffer(string: "{\"events\":[" + events.joined(separator: ",") + "]}")
        }
    }

    /// Waits until `condition` holds, polling; throws when `timeout` passes first.
    private func until(_ timeout: Duration, _ what: String, _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while !condition() {
            guard ContinuousClock.now < deadline else { throw Failure(description: "timed out waiting until \(what)") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    // MARK: - The restart probe

    /// The restart's memory in the worst case for the state: a backlog of `events` records of one
    /// event each (an enqueue per event), written straight to the log, then opened by the probe.
    static func singleEventBacklog(directory: String, events: Int) async throws -> Probe {
        try? FileManager.default.removeItem(atPath: directory)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var configuration = SegmentLog.Configuration()
        configuration.syncPolicy = .never
        configuration.preallocation = .none
        let log = try SegmentLog.open(directory: directory, configuration: configuration)
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        // One event for every record: each record is compressed alone, so it still costs ~600 B.
        let padding = String((0..<480).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Character(UnicodeScalar(UInt8(97 + (state >> 59))))
        })
        let event = Array(("{\"type\":\"m.room.message\",\"sender\":\"@down_0:bench.example\",\"room_id\":\"!room0:bench.example\","
            + "\"content\":{\"msgtype\":\"m.text\",\"body\":\"\(padding)\"}}").utf8)
        for start in stride(from: 0, to: events, by: 1000) {
            let records = (start..<min(start + 1000, events)).map { _ in
                SchedulerRecord.enqueued(service: "down", items: EventBatch(events: [event]), at: .epoch).logEntry
            }
            _ = try await log.append(contentsOf: records)
        }
        try await log.close()
        return try runProbe(directory: directory)
    }

    /// Runs `asched-bench --outage-probe DIR` and reads its line.
    static func runProbe(directory: String) throws -> Probe {
        let fields = try ChildProbe.numbers(["--outage-probe", directory], count: 6)
        return Probe(peakRSS: Int(fields[0]), openSeconds: fields[1], items: Int(fields[2]), liveBytes: Int(fields[3]),
                     logBytes: Int(fields[4]), checkpointBytes: Int(fields[5]))
    }

    /// The probe: opens (replays) the scheduler on `directory` without sending anything, and
    /// prints its peak resident memory; then, in the same line, what the backlog holds on disk.
    static func probe(directory: String) async throws {
        var configuration = SchedulerConfiguration()
        configuration.compactAfterSealedSegments = nil
        configuration.log.preallocation = .none
        let started = ContinuousClock.now
        let scheduler = try await AppServiceScheduler.open(directory: directory, services: [], transport: ReplayMemory.Silent(),
                                                           clock: SystemClock(), configuration: configuration)
        let seconds = EndToEnd.seconds(ContinuousClock.now - started)
        let state = await scheduler.snapshot
        try await scheduler.close()
        let peak = ReplayMemory.peakResidentBytes()
        // Measured after the peak is read: what follows is the probe's own bookkeeping.
        let items = state.services.values.reduce(0) { sum, service in
            sum + service.queued.count + service.pending.reduce(0) { $0 + $1.items.count }
        }
        let checkpoint = SchedulerCheckpoint(of: state)
        let checkpointBytes = checkpoint.records.reduce(0) { $0 + $1.logEntry.payload.count }
        let log = try SegmentLog.open(directory: directory, configuration: configuration.log)
        var liveBytes = 0
        for position in checkpoint.livePositions {
            liveBytes += try FrameHeader.byteCount + log.record(at: position).location.storedBytes
        }
        let logBytes = log.statistics.logBytes
        try await log.close()
        print("\(peak) \(seconds) \(items) \(liveBytes) \(logBytes) \(checkpointBytes)")
    }

}

/// The daemon's HTTP API, as the operator's tools call it.
struct DaemonAPI {
    let client: HTTPClient
    let port: Int

    /// The log's size, from `asched_log_bytes` in `/metrics`.
    func logBytes() async throws -> Int {
        let text = try await call(post: false, "/metrics")
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("asched_log_bytes ") }),
              let value = line.split(separator: " ").last.flatMap({ Double($0) }) else {
            throw OutageRun.Failure(description: "no asched_log_bytes in /metrics")
        }
        return Int(value)
    }

    func retry(_ service: String) async throws {
        _ = try await call(post: true, "/_asched/v1/services/\(service)/retry")
    }

    private func call(post: Bool, _ path: String) async throws -> String {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = post ? .POST : .GET
        request.headers.add(name: "Authorization", value: "Bearer \(OutageRun.token)")
        let response = try await client.execute(request, timeout: .seconds(60))
        let body = try await response.body.collect(upTo: 16 << 20)
        guard response.status == .ok else { throw OutageRun.Failure(description: "\(path) answered \(response.status)") }
        return String(buffer: body)
    }
}

/// A child process running ``OutageDaemon``, its standard output read line by line.
struct DaemonProcess {
    final class Output: Sendable {
        let lines = Mutex<[String]>([])
        let ended = Mutex(false)
    }

    let process: Process
    let output: Output
    let port: Int

    static func start(directory: String, servicePort: Int) async throws -> DaemonProcess {
        let process = Process()
        process.executableURL = try ChildProbe.ownExecutable()
        process.arguments = ["--outage-daemon", directory, String(servicePort)]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = Output()
        let handle = pipe.fileHandleForReading
        Thread {
            var pending = Data()
            while case let data = handle.availableData, !data.isEmpty {
                pending.append(data)
                while let newline = pending.firstIndex(of: 10) {
                    let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                    pending.removeSubrange(pending.startIndex...newline)
                    output.lines.withLock { $0.append(line) }
                }
            }
            output.ended.withLock { $0 = true }
        }.start()
        // Long enough to replay a multi-gigabyte backlog.
        let deadline = ContinuousClock.now + .seconds(600)
        while ContinuousClock.now < deadline {
            let line = output.lines.withLock { $0.first { $0.hasPrefix("port ") } }
            if let port = line.flatMap({ Int($0.dropFirst(5)) }) {
                return DaemonProcess(process: process, output: output, port: port)
            }
            guard process.isRunning else {
                throw OutageRun.Failure(description: "the daemon exited with status \(process.terminationStatus) at start")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        process.terminate()
        throw OutageRun.Failure(description: "the daemon did not start listening within 600 s")
    }

    /// The daemon's peak resident memory so far (VmHWM).
    var peakResidentBytes: Int { ReplayMemory.peakResidentBytes(process: "\(process.processIdentifier)") }

    /// Stops the daemon with SIGTERM (it syncs and closes its log) and returns what it said.
    func stop() async throws -> [String] {
        process.terminate()
        while process.isRunning || !output.ended.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(10)) }
        guard process.terminationStatus == 0 else {
            throw OutageRun.Failure(description: "the daemon exited with status \(process.terminationStatus) on SIGTERM")
        }
        return output.lines.withLock { $0 }
    }
}
