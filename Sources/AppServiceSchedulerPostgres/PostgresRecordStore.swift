import AppServiceScheduler
import Foundation
import Logging
import PostgresNIO
import SegmentLog
import Synchronization

/// A ``RecordStore`` in a PostgreSQL database: the scheduler's records as rows of
/// `asched_records`, so ``AppServiceScheduler/open(store:services:transport:clock:configuration:)``
/// runs the same scheduler on it as on the embedded log.
///
/// One store writes to a database at a time. Opening one takes the writer lease
/// (`asched_writer_lease`) by incrementing its epoch; every write checks that epoch in the
/// same statement, so once another store has opened the database, the database itself refuses
/// this one's writes (``PostgresStoreError/fenced(database:table:epoch:)``).
///
/// Or several stores write at once, each the records of the services whose leases it holds
/// (``open(url:holder:services:recordBytesMax:leaseDuration:logger:)``): every write checks
/// those leases in the same statement, a store's positions are a block no other store's open
/// draws, and a service moving to another store goes on at higher positions, so each service's
/// records are in the order they committed. A replay reads the store's services' records only,
/// and a compaction deletes only theirs.
///
/// Positions are assigned here, in call order, from the table's last one at open; one writer
/// task commits the appends in that order, those waiting together in one statement (group
/// commit), with `synchronous_commit` on. Reads (``replay(_:)``, ``records(at:)``) are
/// synchronous, as the protocol asks: they block the calling thread (not an event loop) for
/// one round trip per query.
///
/// A lost connection is not a failure of the store: the writer connects again (backing off up to
/// ``reconnectDelayMax``) and commits the appends waiting, which stay unacknowledged meanwhile;
/// an append whose commit's outcome the lost connection hid is committed again with no
/// duplicate (its positions are the rows' keys). A read connects again once before it fails.
///
/// ```swift
/// // fragment
/// let store = try await PostgresRecordStore.open(url: try PostgresDatabaseURL(databaseURL))
/// let scheduler = try await AppServiceScheduler.open(store: store, services: services,
///                                                    transport: transport, clock: SystemClock())
/// ```
public final class PostgresRecordStore: RecordStore {
    /// The schema version this release creates, and the newest it reads.
    public static let schemaVersion = 4
    static let recordsTable = "asched_records"
    static let leaseTable = "asched_writer_lease"
    static let serviceLeaseTable = "asched_service_leases"
    static let floorTable = "asched_replay_floor"
    static let schemaTable = "asched_schema"
    /// Payload bytes one INSERT carries at most when several appends wait (one append is never split).
    static let statementBytesMax = 32 << 20
    /// Rows one replay query reads; a replay pages through the table with as many.
    static let replayPageRecordsMax = 1_000
    /// The longest wait between two attempts to connect again while the database is unreachable.
    static let reconnectDelayMax = Duration.seconds(1)

    /// The database, named without its password in every message.
    public let url: PostgresDatabaseURL
    /// The writer lease's epoch this store took at open, or the incarnation it took its
    /// services' leases at; a later open takes a higher one.
    public var epoch: Int64 { fence.token }
    /// The services whose leases this store holds, sorted: it writes, replays and compacts their
    /// records only. Nil for a store holding the writer lease, which writes every service's.
    public var services: [String]? {
        guard case .serviceLeases(_, let services) = fence else { return nil }
        return services
    }
    let fence: Fence
    /// ``services`` as a set, for checking each record appended.
    private let leased: Set<String>?
    public let recordBytesMax: Int
    /// The write connection's event loop, which the append promises live on whatever connection
    /// commits them.
    private let eventLoop: any EventLoop
    /// Used by the writer task alone, and by ``close()`` once it ended.
    private let writeConnection: Mutex<PostgresConnection>
    private let readConnection: Mutex<PostgresConnection>
    let logger: Logger
    private let state: Mutex<State>
    private let wakeup: AsyncStream<Void>.Continuation
    private let writer = Mutex<Task<Void, Never>?>(nil)
    /// Renews a lease with a time limit, from open to close.
    private let renewal = Mutex<Task<Void, Never>?>(nil)
    private let leaseLoss: AsyncStream<PostgresStoreError>
    private let leaseLossContinuation: AsyncStream<PostgresStoreError>.Continuation

    /// One ``beginAppend(contentsOf:)``'s records, waiting for the writer.
    private struct Batch {
        let first: UInt64
        let entries: [LogEntry]
        let promise: EventLoopPromise<Void>
    }

    private struct State {
        var nextPosition: UInt64
        var queued: [Batch] = []
        /// The last append's commit: awaiting it awaits every earlier one (they commit in order).
        var lastCommit: EventLoopFuture<Void>?
        var failure: PostgresStoreError?
        var closed = false
        /// Why the writer is connecting again, while it is.
        var connectionProblem: String?
        var statistics = LogStatistics()
    }

    private init(url: PostgresDatabaseURL, fence: Fence, recordBytesMax: Int, leaseDuration: Duration?, connections: Connections,
                 logger: Logger, start: Start) {
        self.url = url
        self.fence = fence
        if case .serviceLeases(_, let services) = fence { leased = Set(services) } else { leased = nil }
        self.recordBytesMax = recordBytesMax
        eventLoop = connections.write.eventLoop
        writeConnection = Mutex(connections.write)
        readConnection = Mutex(connections.read)
        self.logger = logger
        var state = State(nextPosition: start.nextPosition)
        state.statistics.logBytes = start.payloadBytes
        self.state = Mutex(state)
        let (wakeups, wakeup) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        self.wakeup = wakeup
        (leaseLoss, leaseLossContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
        writer.withLock { $0 = Task { await self.runWriter(wakeups) } }
        if let leaseDuration {
            renewal.withLock { $0 = Task { await self.keepLease(for: leaseDuration) } }
        }
    }

    /// Connects to `url`, creates, migrates or checks the schema (refusing a newer one), takes the
    /// writer lease as `holder` (named in `asched_writer_lease`, for operators) whoever holds it,
    /// and finds where the positions go on. With `leaseDuration`, the lease expires unless
    /// the store renews it in time (every third of it, from open to close: ``leaseLost()`` says
    /// when it could not); without, it is this store's until another opens.
    public static func open(url: PostgresDatabaseURL, holder: String = defaultHolder, recordBytesMax: Int = 16 << 20,
                            leaseDuration: Duration? = nil,
                            logger: Logger = Logger(label: "asched.postgres", factory: { _ in SwiftLogNoOpLogHandler() }))
        async throws -> PostgresRecordStore {
        let store = try await open(url: url, holder: holder, recordBytesMax: recordBytesMax, leaseDuration: leaseDuration,
                                   request: .writer(onlyIfExpired: false), logger: logger)
        return store!
    }

    /// Connects to `url` as ``open(url:holder:recordBytesMax:leaseDuration:logger:)`` does, but
    /// takes, as `holder`, the lease of each of `services` that no store holds (never taken,
    /// expired, or released when its store closed), not the writer lease: several such stores
    /// write to one database at once, each the records of its own services, so several
    /// schedulers (one per store, each given its store's ``services``) share it. ``services``
    /// says which were taken, perhaps none. The leases expire unless renewed within
    /// `leaseDuration` (every third of it, until ``close()``, which releases them); a store that
    /// lost one writes nothing more (``leaseLost()``). Throws
    /// ``PostgresStoreError/writerLeaseHeld(database:holder:)`` while a store holds the writer
    /// lease, whose open in turn fences every store holding services' leases.
    public static func open(url: PostgresDatabaseURL, holder: String = defaultHolder, services: Set<String>,
                            recordBytesMax: Int = 16 << 20, leaseDuration: Duration = .seconds(6),
                            logger: Logger = Logger(label: "asched.postgres", factory: { _ in SwiftLogNoOpLogHandler() }))
        async throws -> PostgresRecordStore {
        precondition(services.allSatisfy { !$0.isEmpty }, "a service id is not empty")
        let store = try await open(url: url, holder: holder, recordBytesMax: recordBytesMax, leaseDuration: leaseDuration,
                                   request: .services(services.sorted()), logger: logger)
        return store!
    }

    /// ``open(url:holder:recordBytesMax:leaseDuration:logger:)``, but only when no holder's lease
    /// is live (it expired, or none was ever taken): nil when another store holds it. How a
    /// standby takes over from an instance that died.
    public static func openIfLeaseExpired(url: PostgresDatabaseURL, holder: String, recordBytesMax: Int = 16 << 20,
                                          leaseDuration: Duration,
                                          logger: Logger = Logger(label: "asched.postgres", factory: { _ in SwiftLogNoOpLogHandler() }))
        async throws -> PostgresRecordStore? {
        try await open(url: url, holder: holder, recordBytesMax: recordBytesMax, leaseDuration: leaseDuration,
                       request: .writer(onlyIfExpired: true), logger: logger)
    }

    private static func open(url: PostgresDatabaseURL, holder: String, recordBytesMax: Int, leaseDuration: Duration?,
                             request: Schema.LeaseRequest, logger: Logger) async throws -> PostgresRecordStore? {
        precondition(recordBytesMax > 0 && recordBytesMax <= 256 << 20, "recordBytesMax must be in 1...256 MiB")
        precondition(leaseDuration.map { $0 >= .seconds(1) } ?? true, "a lease shorter than a second would expire between renewals")
        let connections = try await Connections.open(url, logger: logger)
        do {
            guard let fence = try await Schema.prepare(connections.write, url: url, holder: holder, leaseDuration: leaseDuration,
                                                       request: request, logger: logger) else {
                await connections.close()
                guard case .writer(onlyIfExpired: true) = request else {
                    throw PostgresStoreError.statementFailed(database: url.description, table: leaseTable,
                                                             operation: "taking the writer lease", reason: "the lease row is missing")
                }
                return nil
            }
            let start = try await Start.read(connections.read, url: url, fence: fence, logger: logger)
            return PostgresRecordStore(url: url, fence: fence, recordBytesMax: recordBytesMax, leaseDuration: leaseDuration,
                                       connections: connections, logger: logger, start: start)
        } catch {
            await connections.close()
            throw error
        }
    }

    /// `hostname:pid`, so an operator can tell which process holds the lease.
    public static var defaultHolder: String {
        "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier)"
    }

    // MARK: - RecordStore

    public func beginAppend(contentsOf entries: [LogEntry]) throws -> PostgresAppend {
        precondition(!entries.isEmpty, "an append needs at least one record")
        precondition(entries.allSatisfy { $0.payload.count <= recordBytesMax }, "a record is over recordBytesMax")
        if let leased {
            for entry in entries {
                let service = RecordServiceName.of(entry.payload)
                guard let service, leased.contains(service) else { throw PostgresStoreError.serviceNotLeased(database: url.description, service: service) }
            }
        }
        let append = try state.withLock { state throws(PostgresStoreError) -> PostgresAppend in
            if let failure = state.failure { throw failure }
            guard !state.closed else { throw .closed(database: url.description) }
            let first = state.nextPosition
            state.nextPosition += UInt64(entries.count)
            let promise = eventLoop.makePromise(of: Void.self)
            state.queued.append(Batch(first: first, entries: entries, promise: promise))
            state.lastCommit = promise.futureResult
            return PostgresAppend(positions: LogPosition(rawValue: first)...LogPosition(rawValue: state.nextPosition - 1),
                                  committed: promise.futureResult)
        }
        wakeup.yield()
        return append
    }

    public func replay(_ apply: (LogRecord) throws -> Void) throws {
        let floorRows = try read("SELECT position FROM asched_replay_floor", table: Self.floorTable, operation: "reading the replay floor")
        var next = try floorRows.first.map { try $0.decode(Int64.self) } ?? 0
        while true {
            // A service's records below its own floor (its last compaction as a store holding its
            // lease) are the live ones that compaction kept, read for their items only.
            let query: PostgresQuery = switch fence {
            case .writerLease: """
                SELECT r.position, r.type, r.payload FROM asched_records r LEFT JOIN asched_service_floors f ON f.service = r.service
                WHERE r.position >= \(next) AND r.position >= coalesce(f.position, 0) ORDER BY r.position LIMIT \(Self.replayPageRecordsMax)
                """
            case .serviceLeases(_, let services): """
                SELECT r.position, r.type, r.payload FROM asched_records r LEFT JOIN asched_service_floors f ON f.service = r.service
                WHERE r.service = ANY(\(services)) AND r.position >= \(next) AND r.position >= coalesce(f.position, 0)
                ORDER BY r.position LIMIT \(Self.replayPageRecordsMax)
                """
            }
            let page = try read(query, table: Self.recordsTable, operation: "replaying from position \(next)")
            for row in page.rows {
                let record = try logRecord(row)
                try apply(record)
                next = Int64(record.position.rawValue) + 1
            }
            if page.rows.count < Self.replayPageRecordsMax { return }
        }
    }

    public func records(at positions: [LogPosition]) throws -> [LogRecord] {
        guard !positions.isEmpty else { return [] }
        assert(zip(positions, positions.dropFirst()).allSatisfy { $0 < $1 }, "positions must ascend")
        let wanted = positions.map { Int64($0.rawValue) }
        let result = try read("""
            SELECT position, type, payload FROM asched_records WHERE position = ANY(\(wanted)) ORDER BY position
            """, table: Self.recordsTable, operation: "reading \(positions.count) records from position \(positions[0])")
        let records = try result.rows.map(logRecord)
        guard records.count == positions.count else {
            let missing = positions.first { !Set(records.map(\.position)).contains($0) } ?? positions[0]
            throw PostgresStoreError.recordMissing(database: url.description, table: Self.recordsTable, position: missing.rawValue)
        }
        return records
    }

    /// Deletes, in one statement (one SQL transaction), the records below `floor` but those
    /// at `live`, and moves the replay floor, once the writer lease is still this store's.
    public func compact(before floor: LogPosition, keeping live: [LogPosition]) async throws -> CompactionReport? {
        precondition(live.allSatisfy { $0 < floor }, "live records must lie below the floor")
        try checkUsable()
        let started = ContinuousClock.now
        let bound = Int64(floor.rawValue)
        let kept = live.map { Int64($0.rawValue) }
        let outcome: (lease: Int64, records: Int64, bytes: Int64, deleted: Int64, deletedBytes: Int64)
        do {
            let query: PostgresQuery = switch fence {
            case .writerLease(let epoch): """
                WITH lease AS (SELECT epoch FROM asched_writer_lease WHERE epoch = \(epoch) AND expires_at > now() FOR SHARE),
                below AS (SELECT count(*) AS records, coalesce(sum(octet_length(payload)), 0)::bigint AS bytes
                          FROM asched_records WHERE position < \(bound)),
                deleted AS (DELETE FROM asched_records WHERE position < \(bound) AND NOT (position = ANY(\(kept)))
                            AND EXISTS (SELECT 1 FROM lease) RETURNING octet_length(payload) AS bytes),
                moved AS (UPDATE asched_replay_floor SET position = greatest(position, \(bound))
                          WHERE EXISTS (SELECT 1 FROM lease) RETURNING position)
                SELECT (SELECT count(*) FROM lease), below.records, below.bytes, (SELECT count(*) FROM deleted),
                       (SELECT coalesce(sum(bytes), 0)::bigint FROM deleted) FROM below
                """
            case .serviceLeases(let incarnation, let services): """
                WITH lease AS (SELECT service FROM asched_service_leases
                               WHERE incarnation = \(incarnation) AND expires_at > now() AND service = ANY(\(services)) FOR SHARE),
                held AS (SELECT count(*) = \(services.count) AS all_held FROM lease),
                below AS (SELECT count(*) AS records, coalesce(sum(octet_length(payload)), 0)::bigint AS bytes
                          FROM asched_records WHERE service = ANY(\(services)) AND position < \(bound)),
                deleted AS (DELETE FROM asched_records WHERE service = ANY(\(services)) AND position < \(bound)
                            AND NOT (position = ANY(\(kept))) AND (SELECT all_held FROM held) RETURNING octet_length(payload) AS bytes),
                moved AS (INSERT INTO asched_service_floors (service, position) SELECT s, \(bound) FROM unnest(\(services)::text[]) AS s
                          WHERE (SELECT all_held FROM held)
                          ON CONFLICT (service) DO UPDATE SET position = greatest(asched_service_floors.position, excluded.position)
                          RETURNING 1)
                SELECT (SELECT CASE WHEN all_held THEN 1 ELSE 0 END FROM held)::bigint, below.records, below.bytes,
                       (SELECT count(*) FROM deleted), (SELECT coalesce(sum(bytes), 0)::bigint FROM deleted) FROM below
                """
            }
            let result = try await ConnectionLost.check(readConnection.withLock { $0 }).query(query, logger: logger).get()
            guard let row = result.rows.first else {
                throw PostgresStoreError.statementFailed(database: url.description, table: Self.recordsTable,
                                                         operation: "compacting below position \(floor)", reason: "it returned no row")
            }
            outcome = try row.decode((Int64, Int64, Int64, Int64, Int64).self)
        } catch {
            throw statementFailed(error, table: Self.recordsTable, operation: "compacting below position \(floor)")
        }
        guard outcome.lease == 1 else { throw fenced(table: Self.recordsTable) }
        state.withLock { $0.statistics.logBytes -= Int(outcome.deletedBytes) }
        guard outcome.deleted > 0 else { return nil }
        return CompactionReport(floor: floor, recordsBefore: Int(outcome.records), recordsAfter: Int(outcome.records - outcome.deleted),
                                bytesBefore: Int(outcome.bytes), bytesAfter: Int(outcome.bytes - outcome.deletedBytes),
                                duration: ContinuousClock.now - started)
    }

    /// Returns once the lease with a time limit is lost (another store took it, or it expired
    /// before a renewal got through), with the error every write now fails with; nil once the
    /// store is closed or the calling task cancelled first. One caller at a time.
    public func leaseLost() async -> PostgresStoreError? {
        for await error in leaseLoss { return error }
        return nil
    }

    /// Renews the lease every third of `duration` until the store closes. The database's clock
    /// decides, but by this process's the lease is as good as gone once `duration` passed
    /// without a renewal (a pause, a partition): the store then stops writing rather than beside
    /// a new holder.
    private func keepLease(for duration: Duration) async {
        var lastRenewal = ContinuousClock.now
        while true {
            try? await Task.sleep(for: duration / 3)
            if Task.isCancelled { return }
            let loss: PostgresStoreError
            do {
                if try await renewLease(for: duration) {
                    lastRenewal = ContinuousClock.now
                    continue
                }
                loss = fenced(table: Self.leaseTable)
            } catch {
                guard ContinuousClock.now - lastRenewal >= duration else {
                    logger.warning("cannot renew the writer lease yet", metadata: ["database": "\(url)", "reason": "\(error)"])
                    continue
                }
                loss = stopWriting(.leaseUnrenewed(database: url.description, epoch: epoch, duration: "\(duration)",
                                                   reason: "\(error)"))
            }
            leaseLossContinuation.yield(loss)
            return
        }
    }

    /// Moves the writer lease's expiry `duration` past the database's clock, if the lease is still
    /// this store's and has not expired: false when it is not (another store took it, or it
    /// expired first), and this store's writes are then refused.
    public func renewLease(for duration: Duration) async throws -> Bool {
        let seconds = Self.seconds(duration)
        do {
            switch fence {
            case .writerLease(let epoch):
                return try await !ConnectionLost.check(readConnection.withLock { $0 }).query("""
                    UPDATE asched_writer_lease SET expires_at = now() + make_interval(secs => \(seconds)::float8)
                    WHERE epoch = \(epoch) AND expires_at > now() RETURNING epoch
                    """, logger: logger).get().rows.isEmpty
            case .serviceLeases(let incarnation, let services):
                return try await ConnectionLost.check(readConnection.withLock { $0 }).query("""
                    UPDATE asched_service_leases SET expires_at = now() + make_interval(secs => \(seconds)::float8)
                    WHERE incarnation = \(incarnation) AND expires_at > now() AND service = ANY(\(services)) RETURNING service
                    """, logger: logger).get().rows.count == services.count
            }
        } catch {
            if ConnectionLost(error) != nil, let connection = try? await Connections.connect(url, try Connections.configuration(url), id: 2,
                                                                                             logger: logger) {
                let lost = readConnection.withLock { current in
                    defer { current = connection }
                    return current
                }
                try? await lost.close()
            }
            throw statementFailed(error, table: Self.leaseTable, operation: "renewing the writer lease")
        }
    }

    /// Writes `address` (a base URL such as `http://10.0.0.5:8448`) into the writer lease (or its
    /// services' leases) as where this store's instance serves its HTTP API, so that a standby
    /// forwards the requests it receives there. False when a lease is no longer this store's.
    public func advertise(address: String) async throws -> Bool {
        do {
            switch fence {
            case .writerLease(let epoch):
                return try await !ConnectionLost.check(readConnection.withLock { $0 }).query("""
                    UPDATE asched_writer_lease SET address = \(address) WHERE epoch = \(epoch) RETURNING epoch
                    """, logger: logger).get().rows.isEmpty
            case .serviceLeases(let incarnation, let services):
                return try await ConnectionLost.check(readConnection.withLock { $0 }).query("""
                    UPDATE asched_service_leases SET address = \(address) WHERE incarnation = \(incarnation) AND service = ANY(\(services))
                    RETURNING service
                    """, logger: logger).get().rows.count == services.count
            }
        } catch {
            throw statementFailed(error, table: Self.leaseTable, operation: "advertising the address \(address)")
        }
    }

    /// Nothing to do: the table has no segments, and a compaction may drop any committed record.
    public func sealActiveSegment() async throws {}

    public func synchronize() async throws {
        let last = try state.withLock { state throws(PostgresStoreError) -> EventLoopFuture<Void>? in
            if let failure = state.failure { throw failure }
            return state.lastCommit
        }
        try await last?.get()
    }

    /// Always `.always`: an append is durable when its COMMIT returned, with `synchronous_commit` on.
    public var syncPolicy: SyncPolicy { .always }

    /// Counters since open; ``LogStatistics/logBytes`` is the payload bytes of the records in the
    /// table (counted at open, then tracked through appends and compactions), not the table's
    /// size on disk, which row overhead and rows awaiting VACUUM make larger. No segments: the
    /// scheduler's compaction policy by sealed segments never fires (only its compaction after a
    /// drained backlog does), so call ``AppServiceScheduler/compact()`` on a schedule.
    public var statistics: LogStatistics { state.withLock { $0.statistics } }

    /// The database URL without its password.
    public var location: String { url.description }

    /// `Int.max`: the database server's disk is not this process's to measure, so the scheduler's
    /// free-space floor never refuses an enqueue here (``SchedulerConfiguration/logBytesMax`` still does).
    public func availableBytes() throws -> Int { .max }

    /// Waits for the appends under way to commit, then closes the connections. The writer lease
    /// stays with this store's epoch until another store opens the database; services' leases
    /// are released, for another store to take at once.
    public func close() async throws {
        let last = state.withLock { state -> EventLoopFuture<Void>? in
            state.closed = true
            return state.failure == nil ? state.lastCommit : nil
        }
        wakeup.finish()
        renewal.withLock { $0 }?.cancel()
        leaseLossContinuation.finish()
        var failure: (any Error)?
        do { try await last?.get() } catch { failure = error }
        await writer.withLock { $0 }?.value
        if failure == nil, state.withLock({ $0.failure }) == nil, case .serviceLeases(let incarnation, let services) = fence {
            // Released, so another store takes the services at once rather than once they expire;
            // should this fail, they expire all the same.
            _ = try? await ConnectionLost.check(readConnection.withLock { $0 }).query("""
                UPDATE asched_service_leases SET expires_at = '-infinity' WHERE incarnation = \(incarnation) AND service = ANY(\(services))
                """, logger: logger).get()
        }
        await Connections(write: writeConnection.withLock { $0 }, read: readConnection.withLock { $0 }).close()
        if let failure { throw failure }
    }

    // MARK: - Writing

    private func runWriter(_ wakeups: AsyncStream<Void>) async {
        for await _ in wakeups {
            while let group = takeGroup() {
                do {
                    try await commitReconnecting(group)
                    for batch in group { batch.promise.succeed() }
                } catch {
                    fail(group, because: error)
                }
            }
        }
    }

    /// Commits `group`, connecting again as long as the connection is what failed, until the
    /// store is closed: the appends stay unacknowledged until their commit returns.
    private func commitReconnecting(_ group: [Batch]) async throws {
        var delay = Duration.milliseconds(50)
        var retry = false
        while true {
            do {
                try await commit(group, retry: retry)
                if state.withLock({ $0.connectionProblem.take() }) != nil {
                    logger.info("connected to the database again", metadata: ["database": "\(url)"])
                }
                return
            } catch let error as ConnectionLost {
                let (closed, earlier) = state.withLock { state in
                    defer { state.connectionProblem = error.reason }
                    return (state.closed, state.connectionProblem)
                }
                if closed { throw PostgresStoreError.closed(database: url.description) }
                if earlier == nil {
                    logger.warning("lost the database connection; connecting again until it answers, the appends waiting unacknowledged",
                                   metadata: ["database": "\(url)", "reason": "\(error.reason)"])
                }
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, Self.reconnectDelayMax)
                retry = true
                await reconnectWriter()
            }
        }
    }

    /// A new write connection in place of the lost one; when none can be had, the lost one
    /// stays, and the next commit's failure says so again.
    private func reconnectWriter() async {
        guard let connection = try? await Connections.connect(url, try Connections.configuration(url), id: 1, logger: logger) else { return }
        let lost = writeConnection.withLock { current in
            defer { current = connection }
            return current
        }
        try? await lost.close()
    }

    /// The oldest waiting appends, up to ``statementBytesMax`` of payload (at least one append).
    private func takeGroup() -> [Batch]? {
        state.withLock { state -> [Batch]? in
            guard !state.queued.isEmpty else { return nil }
            var bytes = 0
            var count = 0
            for batch in state.queued {
                let batchBytes = batch.entries.reduce(0) { $0 + $1.payload.count }
                if count > 0 && bytes + batchBytes > Self.statementBytesMax { break }
                bytes += batchBytes
                count += 1
            }
            defer { state.queued.removeFirst(count) }
            return Array(state.queued.prefix(count))
        }
    }

    /// Inserts `group`'s records in one statement that reads the writer lease with a share lock:
    /// a store opening the database (which updates the lease) waits for it to commit, and once the
    /// epoch moved, the statement inserts nothing. On a `retry` (the last attempt's connection
    /// was lost, so it may have committed), rows already at the group's positions count as
    /// inserted: while the lease is this store's, only this store wrote them. Throws
    /// ``ConnectionLost`` when the connection, not the statement, failed.
    private func commit(_ group: [Batch], retry: Bool) async throws {
        var positions: [Int64] = []
        var services: [String] = []
        var types: [Int16] = []
        var payloads: [ByteBuffer] = []
        for batch in group {
            for (offset, entry) in batch.entries.enumerated() {
                positions.append(Int64(batch.first) + Int64(offset))
                services.append(RecordServiceName.of(entry.payload) ?? "")
                types.append(Int16(entry.type))
                payloads.append(ByteBuffer(bytes: entry.payload))
            }
        }
        let operation = "appending at positions \(positions[0])...\(positions.last!)"
        let counts: (lease: Int64, inserted: Int64, present: Int64)
        do {
            let query: PostgresQuery = switch fence {
            case .writerLease(let epoch): """
                WITH lease AS (SELECT epoch FROM asched_writer_lease WHERE epoch = \(epoch) AND expires_at > now() FOR SHARE),
                inserted AS (
                    INSERT INTO asched_records (position, service, type, payload)
                    SELECT r.position, nullif(r.service, ''), r.type, r.payload
                    FROM unnest(\(positions)::bigint[], \(services)::text[], \(types)::smallint[], \(payloads)::bytea[])
                         AS r(position, service, type, payload), lease
                    ON CONFLICT (position) DO NOTHING RETURNING 1)
                SELECT (SELECT count(*) FROM lease), (SELECT count(*) FROM inserted),
                       (SELECT count(*) FROM asched_records WHERE position = ANY(\(positions)))
                """
            // Every service's lease or no row: the group's services in one count, 1 when all are held.
            case .serviceLeases(let incarnation, _):
                """
                WITH lease AS (SELECT service FROM asched_service_leases WHERE incarnation = \(incarnation) AND expires_at > now()
                               AND service = ANY(\(Array(Set(services)))) FOR SHARE),
                held AS (SELECT count(*) = \(Set(services).count) AS all_held FROM lease),
                inserted AS (
                    INSERT INTO asched_records (position, service, type, payload)
                    SELECT r.position, r.service, r.type, r.payload
                    FROM unnest(\(positions)::bigint[], \(services)::text[], \(types)::smallint[], \(payloads)::bytea[])
                         AS r(position, service, type, payload)
                    WHERE (SELECT all_held FROM held)
                    ON CONFLICT (position) DO NOTHING RETURNING 1)
                SELECT (SELECT CASE WHEN all_held THEN 1 ELSE 0 END FROM held)::bigint, (SELECT count(*) FROM inserted),
                       (SELECT count(*) FROM asched_records WHERE position = ANY(\(positions)))
                """
            }
            let rows = try await ConnectionLost.check(writeConnection.withLock { $0 }).query(query, logger: logger).get().rows
            guard let row = rows.first else { throw PostgresStoreError.statementFailed(
                database: url.description, table: Self.recordsTable, operation: operation, reason: "it returned no row") }
            counts = try row.decode((Int64, Int64, Int64).self)
        } catch {
            if let lost = ConnectionLost(error) { throw lost }
            throw statementFailed(error, table: Self.recordsTable, operation: operation)
        }
        guard counts.lease == 1 else { throw fenced(table: Self.recordsTable) }
        // `present` is the table before this statement: rows an earlier attempt committed.
        guard counts.inserted + (retry ? counts.present : 0) == positions.count else {
            throw PostgresStoreError.statementFailed(database: url.description, table: Self.recordsTable, operation: operation,
                                                     reason: "\(counts.inserted) rows inserted and \(counts.present) already there, "
                                                         + "of \(positions.count)")
        }
        let bytes = payloads.reduce(0) { $0 + $1.readableBytes }
        state.withLock { state in
            state.statistics.appendedRecords += positions.count
            state.statistics.payloadBytes += bytes
            state.statistics.storedPayloadBytes += bytes
            state.statistics.writes += 1
            state.statistics.syncs += 1
            state.statistics.logBytes += bytes
        }
    }

    /// Fails `group` and every append after it: positions were given in order, so none may commit
    /// past a gap. The store accepts nothing more.
    private func fail(_ group: [Batch], because error: any Error) {
        let failure = error as? PostgresStoreError
            ?? .statementFailed(database: url.description, table: Self.recordsTable, operation: "appending",
                                reason: PostgresStoreError.reason(error))
        let abandoned = state.withLock { state -> [Batch] in
            state.failure = state.failure ?? failure
            defer { state.queued = [] }
            return state.queued
        }
        for batch in group + abandoned { batch.promise.fail(failure) }
    }

    // MARK: - Reading

    /// Runs `query` on the read connection and blocks until its rows are in: the protocol's reads
    /// are synchronous. The connection's event loop thread does the work, never the caller's.
    private func read(_ query: PostgresQuery, table: String, operation: String) throws -> PostgresQueryResult {
        do {
            return try ConnectionLost.check(readConnection.withLock { $0 }).query(query, logger: logger).wait()
        } catch {
            guard ConnectionLost(error) != nil else { throw statementFailed(error, table: table, operation: operation) }
        }
        // The connection was lost (the database restarted, say): once more on a new one.
        do {
            let connection = try Connections.connect(url, try Connections.configuration(url), id: 2, on: eventLoop, logger: logger).wait()
            let lost = readConnection.withLock { current in
                defer { current = connection }
                return current
            }
            lost.close().whenComplete { _ in }
            return try connection.query(query, logger: logger).wait()
        } catch {
            throw statementFailed(error, table: table, operation: operation)
        }
    }

    private func logRecord(_ row: PostgresRow) throws -> LogRecord {
        try Self.logRecord(row, url: url, recordBytesMax: recordBytesMax)
    }

    /// The record in `row` (position, type, payload), checked: a row out of range is not a record a store wrote.
    static func logRecord(_ row: PostgresRow, url: PostgresDatabaseURL, recordBytesMax: Int) throws -> LogRecord {
        let position: Int64, type: Int16, payload: ByteBuffer
        do {
            (position, type, payload) = try row.decode((Int64, Int16, ByteBuffer).self)
        } catch {
            throw PostgresStoreError.invalidRow(database: url.description, table: recordsTable, position: 0,
                                                reason: PostgresStoreError.reason(error))
        }
        guard position > 0, let code = UInt8(exactly: type), payload.readableBytes <= recordBytesMax else {
            throw PostgresStoreError.invalidRow(database: url.description, table: recordsTable, position: UInt64(max(position, 0)),
                                                reason: "type \(type) or a payload of \(payload.readableBytes) bytes is out of range")
        }
        return LogRecord(position: LogPosition(rawValue: UInt64(position)), type: code,
                         payload: Array(payload.readableBytesView),
                         location: RecordLocation(segmentFileName: recordsTable, offset: 0,
                                                  storedBytes: payload.readableBytes, isCompressed: false))
    }

    // MARK: - Failures

    private func checkUsable() throws {
        try state.withLock { state throws(PostgresStoreError) in
            if let failure = state.failure { throw failure }
            if state.closed { throw .closed(database: url.description) }
        }
    }

    /// The lease moved to another store (or a service's lease expired): this one stops writing for good.
    private func fenced(table: String) -> PostgresStoreError {
        switch fence {
        case .writerLease(let epoch): stopWriting(.fenced(database: url.description, table: table, epoch: epoch))
        case .serviceLeases(let incarnation, _): stopWriting(.serviceLeaseLost(database: url.description, table: table, incarnation: incarnation))
        }
    }

    /// `duration` in seconds, as SQL's `make_interval` takes it.
    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }

    /// Every later write fails with the first such `error`, which it returns.
    private func stopWriting(_ error: PostgresStoreError) -> PostgresStoreError {
        state.withLock { state in
            state.failure = state.failure ?? error
            return state.failure!
        }
    }

    private func statementFailed(_ error: any Error, table: String, operation: String) -> PostgresStoreError {
        if let error = error as? PostgresStoreError { return error }
        return .statementFailed(database: url.description, table: table, operation: operation,
                                reason: PostgresStoreError.reason(error))
    }
}
