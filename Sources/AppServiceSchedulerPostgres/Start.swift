import Logging
import PostgresNIO

/// Where an opened store's positions go on, and what the table holds.
struct Start {
    /// After the last record, and never below the replay floor (compaction may have dropped the
    /// records just below it); for a store holding services' leases, its block's first.
    let nextPosition: UInt64
    /// The payload bytes of the records in the table.
    let payloadBytes: Int

    /// Read after the lease is taken: an earlier store's appends have all committed or failed by
    /// then. A store holding services' leases starts its incarnation's block, whatever other
    /// such stores have appended since (at higher blocks), and counts its services' bytes only.
    static func read(_ connection: PostgresConnection, url: PostgresDatabaseURL, fence: Fence, logger: Logger) async throws -> Start {
        do {
            let rows: [PostgresRow]
            switch fence {
            case .writerLease:
                rows = try await connection.query("""
                    SELECT greatest((SELECT coalesce(max(position), 0) FROM asched_records) + 1,
                                    (SELECT position FROM asched_replay_floor), 1),
                           (SELECT coalesce(sum(octet_length(payload)), 0)::bigint FROM asched_records)
                    """, logger: logger).collect()
            case .serviceLeases(let incarnation, let services):
                rows = try await connection.query("""
                    SELECT \((incarnation << Schema.blockShift) + 1)::bigint,
                           (SELECT coalesce(sum(octet_length(payload)), 0)::bigint FROM asched_records WHERE service = ANY(\(services)))
                    """, logger: logger).collect()
            }
            guard let (next, bytes) = try rows.first?.decode((Int64, Int64).self), next > 0, bytes >= 0 else {
                throw PostgresStoreError.statementFailed(database: url.description, table: PostgresRecordStore.recordsTable,
                                                         operation: "reading the last position", reason: "no row or a negative value")
            }
            return Start(nextPosition: UInt64(next), payloadBytes: Int(bytes))
        } catch let error as PostgresStoreError {
            throw error
        } catch {
            throw PostgresStoreError.statementFailed(database: url.description, table: PostgresRecordStore.recordsTable,
                                                     operation: "reading the last position", reason: PostgresStoreError.reason(error))
        }
    }
}
