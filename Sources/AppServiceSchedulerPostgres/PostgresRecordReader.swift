import AppServiceScheduler
import Logging
import PostgresNIO
import SegmentLog

/// Reads a ``PostgresRecordStore``'s database without taking its writer lease, so it runs beside
/// the instance that holds it (what `asched inspect`, `dump`, `state` and `verify` do): the
/// records, the replay floor, the lease and the schema version. Blocking, one round trip per
/// query, like the store's own reads; never on an event loop.
///
/// ```swift
/// // fragment
/// let reader = try PostgresRecordReader(url: try PostgresDatabaseURL(databaseURL))
/// defer { reader.close() }
/// try reader.records(from: reader.replayFloor) { record in print(record.position) }
/// ```
public final class PostgresRecordReader: Sendable {
    /// The database, named without its password in every message.
    public let url: PostgresDatabaseURL
    /// The schema version the database holds.
    public let schemaVersion: Int
    /// Where a replay starts: records below it are the live ones compaction kept, read for their items only.
    public let replayFloor: LogPosition
    /// Each service's own floor, above ``replayFloor``, where a store holding the service's lease
    /// compacted it: that service's records below it are read for their items only.
    public let serviceFloors: [String: LogPosition]
    /// The services' leases (schema version 4), by service: the store that took each (its
    /// holder name and incarnation) and whether it is live (neither expired nor released).
    public let serviceLeases: [String: (holder: String, incarnation: Int64, isLive: Bool)]
    /// The writer lease: its epoch and its holder (an instance name), when the reader opened.
    public let lease: (epoch: Int64, holder: String)
    private let connection: PostgresConnection
    private let logger = Logger(label: "asched.postgres.reader", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Connects to `url` and reads the schema version (refusing a newer one, or a database with no
    /// store's tables), the replay floor and the lease. Writes nothing.
    public init(url: PostgresDatabaseURL) throws {
        self.url = url
        connection = try Connections.connect(url, try Connections.configuration(url), id: 4,
                                             on: PostgresConnection.defaultEventLoopGroup.any(), logger: logger).wait()
        do {
            let tables = try Self.query(connection, url, "SELECT to_regclass('asched_schema') IS NOT NULL", logger: logger,
                                        table: PostgresRecordStore.schemaTable, operation: "looking for the schema")
            guard try tables.first?.decode(Bool.self) == true else {
                throw PostgresStoreError.statementFailed(database: url.description, table: PostgresRecordStore.schemaTable,
                                                         operation: "looking for the schema",
                                                         reason: "the database holds no asched tables: no asched instance has opened it yet")
            }
            let row = try Self.query(connection, url, """
                SELECT (SELECT version FROM asched_schema), (SELECT position FROM asched_replay_floor),
                       (SELECT epoch FROM asched_writer_lease), (SELECT holder FROM asched_writer_lease)
                """, logger: logger, table: PostgresRecordStore.schemaTable, operation: "reading the schema version and the lease")
            guard let row = row.first else {
                throw PostgresStoreError.statementFailed(database: url.description, table: PostgresRecordStore.schemaTable,
                                                         operation: "reading the schema version and the lease", reason: "no row")
            }
            let (version, floor, epoch, holder) = try row.decode((Int32, Int64, Int64, String).self)
            guard version <= PostgresRecordStore.schemaVersion else {
                throw PostgresStoreError.newerSchema(database: url.description, version: Int(version),
                                                     supportedVersion: PostgresRecordStore.schemaVersion)
            }
            schemaVersion = Int(version)
            replayFloor = LogPosition(rawValue: UInt64(max(floor, 0)))
            lease = (epoch, holder)
            let floors = version < 4 ? [] : try Self.query(connection, url, "SELECT service, position FROM asched_service_floors",
                                                           logger: logger, table: "asched_service_floors",
                                                           operation: "reading the services' replay floors")
            let leases = version < 4 ? [] : try Self.query(connection, url, """
                SELECT service, holder, incarnation, expires_at > now() FROM asched_service_leases
                """, logger: logger, table: PostgresRecordStore.serviceLeaseTable, operation: "reading the services' leases")
            serviceLeases = try Dictionary(uniqueKeysWithValues: leases.map { row in
                let (service, holder, incarnation, isLive) = try row.decode((String, String, Int64, Bool).self)
                return (service, (holder, incarnation, isLive))
            })
            serviceFloors = try Dictionary(floors.map { row in
                let (service, position) = try row.decode((String, Int64).self)
                return (service, LogPosition(rawValue: UInt64(max(position, 0))))
            }, uniquingKeysWith: max)
        } catch {
            _ = try? connection.close().wait()
            throw error
        }
    }

    /// Hands `body` the records from `first` through `last` (all after `first` when nil), in
    /// position order, a page at a time.
    public func records(from first: LogPosition, through last: LogPosition? = nil, _ body: (LogRecord) throws -> Void) throws {
        var next = Int64(first.rawValue)
        let bound = last.map { Int64(clamping: $0.rawValue) } ?? .max
        while next <= bound {
            let rows = try Self.query(connection, url, """
                SELECT position, type, payload FROM asched_records WHERE position >= \(next) AND position <= \(bound)
                ORDER BY position LIMIT \(PostgresRecordStore.replayPageRecordsMax)
                """, logger: logger, table: PostgresRecordStore.recordsTable, operation: "reading from position \(next)")
            for row in rows {
                let record = try PostgresRecordStore.logRecord(row, url: url, recordBytesMax: Int.max)
                try body(record)
                next = Int64(record.position.rawValue) + 1
            }
            if rows.count < PostgresRecordStore.replayPageRecordsMax { return }
        }
    }

    /// Whether a replay folds `record`: at or above ``replayFloor`` and its service's floor.
    public func isReplayed(_ record: LogRecord) -> Bool {
        guard record.position >= replayFloor else { return false }
        guard !serviceFloors.isEmpty, let service = RecordServiceName.of(record.payload), let floor = serviceFloors[service] else { return true }
        return record.position >= floor
    }

    /// The number of records and their payload bytes.
    public func totals() throws -> (records: Int, payloadBytes: Int) {
        let row = try Self.query(connection, url, "SELECT count(*), coalesce(sum(octet_length(payload)), 0)::bigint FROM asched_records",
                                 logger: logger, table: PostgresRecordStore.recordsTable, operation: "counting the records")
        guard let (records, bytes) = try row.first?.decode((Int64, Int64).self) else { return (0, 0) }
        return (Int(records), Int(bytes))
    }

    /// Closes the connection.
    public func close() {
        _ = try? connection.close().wait()
    }

    private static func query(_ connection: PostgresConnection, _ url: PostgresDatabaseURL, _ query: PostgresQuery, logger: Logger,
                              table: String, operation: String) throws -> [PostgresRow] {
        do {
            return Array(try connection.query(query, logger: logger).wait().rows)
        } catch let error as PostgresStoreError {
            throw error
        } catch {
            throw PostgresStoreError.statementFailed(database: url.description, table: table, operation: operation,
                                                     reason: PostgresStoreError.reason(error))
        }
    }
}
