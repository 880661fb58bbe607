import AppServiceScheduler
import AppServiceSchedulerTesting
import Foundation
import SegmentLog
import SegmentLogTesting
import Testing

/// A scheduler on a simulated (or real) disk, with a manual clock and a scripted transport.
struct SchedulerHarness {
    let directory: String
    let fileSystem: any FileSystem
    let clock: ManualClock
    let transport: ScriptedTransport
    let services: [ServiceDescriptor]
    let configuration: SchedulerConfiguration

    init(services: [ServiceDescriptor] = [ServiceDescriptor(id: "bridge", receivesEphemeral: true)],
         realDisk: Bool = false, limits: TransactionLimits = TransactionLimits(),
         onRecordApplied: (@Sendable (LogPosition, SchedulerState) -> Void)? = nil) {
        if realDisk {
            directory = FileManager.default.temporaryDirectory.path + "/scheduler-tests/" + UUID().uuidString
            fileSystem = PosixFileSystem()
        } else {
            directory = "/data/scheduler"
            fileSystem = SimulatedFileSystem()
        }
        clock = ManualClock()
        transport = ScriptedTransport()
        self.services = services
        var configuration = SchedulerConfiguration()
        configuration.limits = limits
        configuration.log.fileSystem = fileSystem
        configuration.log.segmentSizeBytes = 64 << 10
        configuration.log.preallocation = .none
        configuration.onRecordApplied = onRecordApplied
        self.configuration = configuration
    }

    /// The same directory, disk, clock and transport with another configuration.
    init(copying other: SchedulerHarness, configuration: SchedulerConfiguration) {
        directory = other.directory
        fileSystem = configuration.log.fileSystem
        clock = other.clock
        transport = other.transport
        services = other.services
        self.configuration = configuration
    }

    func open(transport: (any Transport)? = nil) async throws -> AppServiceScheduler {
        try await AppServiceScheduler.open(directory: directory, services: services,
                                           transport: transport ?? self.transport, clock: clock,
                                           configuration: configuration)
    }

    /// The records in the log, decoded.
    func records() throws -> [(LogPosition, SchedulerRecord)] {
        var cursor = try LogReader(directory: directory, fileSystem: fileSystem).records()
        var records: [(LogPosition, SchedulerRecord)] = []
        while let record = try cursor.next() {
            records.append((record.position, try SchedulerRecord.decode(typeCode: record.type, payload: record.payload)))
        }
        return records
    }
}

/// A JSON event whose body names it, so deliveries can be traced back to enqueues.
func event(_ number: Int, kind: String = "m.room.message") -> [UInt8] {
    Array("{\"type\":\"\(kind)\",\"content\":{\"n\":\(number)}}".utf8)
}

/// The event numbers in a transaction body's `key` array, in order.
func numbers(in body: [UInt8], key: String = "events") -> [Int] {
    guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
          let items = object[key] as? [[String: Any]] else { return [] }
    return items.compactMap { ($0["content"] as? [String: Any])?["n"] as? Int }
}

/// Collects a scheduler's events; ``next(where:)`` waits for the next matching one. Waiting is
/// bounded (20 s), so a missing event fails the test instead of hanging it.
actor EventWatcher {
    private(set) var seen: [SchedulerEvent] = []
    private var cursor = 0
    private var waiter: CheckedContinuation<Void, Never>?

    init(_ stream: AsyncStream<SchedulerEvent>) {
        Task { [weak self] in
            for await event in stream { await self?.append(event) }
        }
    }

    static func watching(_ scheduler: AppServiceScheduler) async -> EventWatcher {
        EventWatcher(await scheduler.events())
    }

    private func append(_ event: SchedulerEvent) {
        seen.append(event)
        waiter?.resume()
        waiter = nil
    }

    /// The next event after the last one returned that satisfies `predicate`.
    @discardableResult
    func next(sourceLocation: SourceLocation = #_sourceLocation,
              where predicate: @Sendable (SchedulerEvent) -> Bool) async throws -> SchedulerEvent {
        try await first(after: cursor, sourceLocation: sourceLocation, where: predicate)
    }

    /// Waits until `event` has happened, whenever since watching began.
    func occurred(_ event: SchedulerEvent, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let cursorBefore = cursor
        try await first(after: 0, sourceLocation: sourceLocation) { $0 == event }
        cursor = max(cursor, cursorBefore)
    }

    private func first(after start: Int, sourceLocation: SourceLocation,
                       where predicate: @Sendable (SchedulerEvent) -> Bool) async throws -> SchedulerEvent {
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            if let index = seen[start...].firstIndex(where: predicate) {
                cursor = index + 1
                return seen[index]
            }
            guard ContinuousClock.now < deadline else {
                Issue.record("no matching event within 60 s; saw \(seen)", sourceLocation: sourceLocation)
                throw CancellationError()
            }
            await withCheckedContinuation { continuation in
                waiter = continuation
                Task { [weak self] in
                    try? await Task.sleep(until: deadline)
                    await self?.wake()
                }
            }
        }
    }

    private func wake() {
        waiter?.resume()
        waiter = nil
    }

    func completed(_ id: UInt64, service: String = "bridge", sourceLocation: SourceLocation = #_sourceLocation) async throws {
        try await next(sourceLocation: sourceLocation) { $0 == .completed(service: service, transaction: id) }
    }
}
