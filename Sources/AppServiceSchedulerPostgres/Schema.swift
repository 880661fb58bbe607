import Logging
import PostgresNIO

/// The store's tables, created or checked at open (`asched_schema` holds their version), and
/// the writer lease taken there.
enum Schema {
    /// Serializes the opens of one database (pg_advisory_xact_lock), so two creating the tables
    /// at once do not collide. "asched" in ASCII.
    static let openLockKey: Int64 = 0x61_73_63_68_65_64

    /// Version 1: the records, one row per position; the writer lease; the replay floor.
    static let version1: [String] = [
        """
        CREATE TABLE asched_records (
            position bigint PRIMARY KEY CHECK (position > 0),
            service text,
            type smallint NOT NULL CHECK (type BETWEEN 0 AND 255),
            payload bytea NOT NULL
        )
        """,
        """
        CREATE TABLE asched_writer_lease (
            singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
            epoch bigint NOT NULL,
            holder text NOT NULL,
            acquired_at timestamptz NOT NULL
        )
        """,
        "INSERT INTO asched_writer_lease (epoch, holder, acquired_at) VALUES (0, '', now())",
        """
        CREATE TABLE asched_replay_floor (
            singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
            position bigint NOT NULL
        )
        """,
        "INSERT INTO asched_replay_floor (position) VALUES (0)",
    ]

    /// In one SQL transaction: creates the tables (or checks their version), then takes the
    /// writer lease with the next epoch, which it returns. The lease update waits for a
    /// previous store's append under way (it holds the lease row with a share lock), and that
    /// store's later appends find the epoch moved.
    static func prepare(_ connection: PostgresConnection, url: PostgresDatabaseURL, holder: String,
                        logger: Logger) async throws -> Int64 {
        var step = "starting the schema transaction"
        do {
            try await connection.query("BEGIN", logger: logger)
            do {
                step = "locking the database's opens"
                try await connection.query("SELECT pg_advisory_xact_lock(\(openLockKey))", logger: logger)
                step = "creating asched_schema"
                try await connection.query("""
                    CREATE TABLE IF NOT EXISTS asched_schema (
                        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
                        version integer NOT NULL
                    )
                    """, logger: logger)
                step = "reading asched_schema"
                let version = try await connection.query("SELECT version FROM asched_schema", logger: logger)
                    .collect().first.map { try $0.decode(Int32.self) }
                switch version.map(Int.init) {
                case nil:
                    step = "creating the schema's tables"
                    for statement in version1 { try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger) }
                    try await connection.query("INSERT INTO asched_schema (version) VALUES (\(Int32(PostgresRecordStore.schemaVersion)))",
                                               logger: logger)
                case let found? where found > PostgresRecordStore.schemaVersion:
                    throw PostgresStoreError.newerSchema(database: url.description, version: found,
                                                         supportedVersion: PostgresRecordStore.schemaVersion)
                case _:
                    break
                }
                step = "taking the writer lease"
                let epoch = try await connection.query("""
                    UPDATE asched_writer_lease SET epoch = epoch + 1, holder = \(holder), acquired_at = now() RETURNING epoch
                    """, logger: logger).collect().first.map { try $0.decode(Int64.self) }
                guard let epoch else {
                    throw PostgresStoreError.statementFailed(database: url.description, table: PostgresRecordStore.leaseTable,
                                                             operation: step, reason: "the lease row is missing")
                }
                step = "committing the schema transaction"
                try await connection.query("COMMIT", logger: logger)
                return epoch
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw error
            }
        } catch let error as PostgresStoreError {
            throw error
        } catch {
            throw PostgresStoreError.statementFailed(database: url.description, table: PostgresRecordStore.schemaTable,
                                                     operation: step, reason: PostgresStoreError.reason(error))
        }
    }
}
