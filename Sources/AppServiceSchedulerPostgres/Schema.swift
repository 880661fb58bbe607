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

    /// Version 2: the writer lease expires (`expires_at`) unless its holder renews it, so a
    /// standby can take the lease of a holder that died. A lease taken by a version 1 store
    /// never expires, as it did not.
    static let version2: [String] = [
        "ALTER TABLE asched_writer_lease ADD COLUMN expires_at timestamptz NOT NULL DEFAULT 'infinity'",
        // Epoch 0 was never taken: free for the first instance.
        "UPDATE asched_writer_lease SET expires_at = '-infinity' WHERE epoch = 0",
    ]

    /// Version 3: the address the lease's holder serves its HTTP API at (`address`, set once it
    /// listens), where a standby forwards the requests it receives. Empty until then.
    static let version3: [String] = [
        "ALTER TABLE asched_writer_lease ADD COLUMN address text NOT NULL DEFAULT ''",
    ]

    /// Version 4: several stores writing at once, each for the services whose leases it holds
    /// (`asched_service_leases`, fenced by the incarnation its open drew from
    /// `asched_incarnations`, which also numbers the block of positions it appends at), each
    /// service with its own replay floor (`asched_service_floors`), the instances of a deployment
    /// that spreads services over them (`asched_instances`, each alive while it renews its row),
    /// and an index for reading a service's records.
    static let version4: [String] = [
        """
        CREATE TABLE asched_service_leases (
            service text PRIMARY KEY,
            incarnation bigint NOT NULL,
            holder text NOT NULL,
            address text NOT NULL DEFAULT '',
            acquired_at timestamptz NOT NULL,
            expires_at timestamptz NOT NULL
        )
        """,
        """
        CREATE TABLE asched_service_floors (
            service text PRIMARY KEY,
            position bigint NOT NULL
        )
        """,
        """
        CREATE TABLE asched_instances (
            name text PRIMARY KEY,
            address text NOT NULL,
            expires_at timestamptz NOT NULL
        )
        """,
        "CREATE SEQUENCE asched_incarnations MINVALUE 0 START 0",
        "CREATE INDEX asched_records_by_service ON asched_records (service, position)",
    ]

    /// The statements taking a database from the version at the index to the next.
    static let migrations = [version1, version2, version3, version4]

    /// What an open takes.
    enum LeaseRequest {
        /// The writer lease of the whole database; with `onlyIfExpired`, only from a holder whose
        /// lease expired (and while no store holds a service's lease).
        case writer(onlyIfExpired: Bool)
        /// The leases of these services that no store holds (expired, released or never taken).
        case services([String])
        /// Nothing: the tables only.
        case none
    }

    /// A store's positions are `incarnation << blockShift` onwards: an open draws a new
    /// incarnation, so a service that moves to another store goes on at higher positions.
    static let blockShift: Int64 = 32

    /// In one SQL transaction: creates or migrates the tables (or checks their version), then
    /// takes what `request` asks for `leaseDuration` (for good when nil), returning what the
    /// store's writes are checked against. A lease update waits for a previous store's append
    /// under way (it holds the lease row with a share lock), and that store's later appends find
    /// the lease moved.
    ///
    /// The writer lease is taken with the next epoch, and fences every store holding a service's
    /// lease; with `onlyIfExpired`, only from a holder whose lease expired, returning nil when it
    /// has not. Services' leases are taken only while no store holds the writer lease.
    static func prepare(_ connection: PostgresConnection, url: PostgresDatabaseURL, holder: String, leaseDuration: Duration?,
                        request: LeaseRequest, logger: Logger) async throws -> Fence? {
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
                let found = version.map(Int.init) ?? 0
                if found > PostgresRecordStore.schemaVersion {
                    throw PostgresStoreError.newerSchema(database: url.description, version: found,
                                                         supportedVersion: PostgresRecordStore.schemaVersion)
                }
                for target in (found + 1)..<(PostgresRecordStore.schemaVersion + 1) {
                    step = "migrating the schema to version \(target)"
                    for statement in migrations[target - 1] { try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger) }
                }
                if found == 0 {
                    try await connection.query("INSERT INTO asched_schema (version) VALUES (\(Int32(PostgresRecordStore.schemaVersion)))",
                                               logger: logger)
                } else if found < PostgresRecordStore.schemaVersion {
                    try await connection.query("UPDATE asched_schema SET version = \(Int32(PostgresRecordStore.schemaVersion))", logger: logger)
                }
                let seconds = leaseDuration.map(PostgresRecordStore.seconds)
                let fence: Fence?
                switch request {
                case .writer(let onlyIfExpired):
                    step = "taking the writer lease"
                    fence = try await connection.query("""
                        UPDATE asched_writer_lease SET epoch = epoch + 1, holder = \(holder), address = '', acquired_at = now(),
                            expires_at = coalesce(now() + make_interval(secs => \(seconds)::float8), 'infinity')
                        WHERE NOT \(onlyIfExpired)
                           OR (expires_at <= now() OR epoch = 0)
                              AND NOT EXISTS (SELECT 1 FROM asched_service_leases WHERE expires_at > now())
                        RETURNING epoch
                        """, logger: logger).collect().first.map { .writerLease(epoch: try $0.decode(Int64.self)) }
                    if fence != nil {
                        step = "fencing the stores holding services' leases"
                        try await connection.query("UPDATE asched_service_leases SET expires_at = '-infinity' WHERE expires_at > now()",
                                                   logger: logger)
                    }
                case .none:
                    fence = nil
                case .services(let services):
                    step = "checking the writer lease"
                    if let writer = try await connection.query("""
                        SELECT holder FROM asched_writer_lease WHERE epoch > 0 AND expires_at > now()
                        """, logger: logger).collect().first.map({ try $0.decode(String.self) }) {
                        throw PostgresStoreError.writerLeaseHeld(database: url.description, holder: writer)
                    }
                    step = "drawing an incarnation"
                    // Past every position written so far, whichever store wrote it.
                    let incarnation = try await connection.query("""
                        SELECT setval('asched_incarnations', greatest(nextval('asched_incarnations'),
                            (SELECT (coalesce(max(position), 0) + \(unescaped: "\((Int64(1) << blockShift) - 1)")) >> \(unescaped: "\(blockShift)")
                             FROM asched_records)))
                        """, logger: logger).collect().first.map { try $0.decode(Int64.self) } ?? 0
                    step = "taking the services' leases"
                    let taken = try await connection.query("""
                        INSERT INTO asched_service_leases (service, incarnation, holder, acquired_at, expires_at)
                        SELECT s, \(incarnation), \(holder), now(), now() + make_interval(secs => \(seconds)::float8)
                        FROM unnest(\(services)::text[]) AS s
                        ON CONFLICT (service) DO UPDATE SET incarnation = excluded.incarnation, holder = excluded.holder, address = '',
                            acquired_at = excluded.acquired_at, expires_at = excluded.expires_at
                        WHERE asched_service_leases.expires_at <= now()
                        RETURNING service
                        """, logger: logger).collect().map { try $0.decode(String.self) }
                    fence = .serviceLeases(incarnation: incarnation, services: taken.sorted())
                }
                step = "committing the schema transaction"
                try await connection.query("COMMIT", logger: logger)
                return fence
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
