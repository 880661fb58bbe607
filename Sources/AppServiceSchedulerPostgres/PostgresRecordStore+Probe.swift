import Logging
import PostgresNIO

extension PostgresRecordStore {
    /// Reads the lease (the writer lease, or this store's services' leases) on a connection of
    /// its own, opened for the probe and closed after, so a health check says whether the
    /// database answers now, whatever the store's own connections went through. Takes at most
    /// about `timeout`.
    public func probe(timeout: Duration = .seconds(3)) async -> PostgresLeaseProbe {
        do {
            switch fence {
            case .writerLease(let epoch):
                let lease = try await Self.readLease(url: url, timeout: timeout, logger: logger)
                return lease.epoch == epoch ? .holding : .lost(holder: lease.holder, epoch: lease.epoch)
            case .serviceLeases(let incarnation, let services):
                let lost = try await Self.read("""
                    SELECT holder, incarnation FROM asched_service_leases
                    WHERE service = ANY(\(services)) AND NOT (incarnation = \(incarnation) AND expires_at > now()) ORDER BY service LIMIT 1
                    """, url: url, timeout: timeout, table: Self.serviceLeaseTable, operation: "reading the services' leases", logger: logger)
                guard let (holder, taken) = try lost.first?.decode((String, Int64).self) else { return .holding }
                return .lost(holder: taken == incarnation ? "" : holder, epoch: taken)
            }
        } catch {
            return .unreachable(reason: "\(error)")
        }
    }

    /// The writer lease of the database at `url` (its epoch; its holder, an instance name; the
    /// address the holder advertised, empty until it listens; and whether it is free: expired,
    /// or never taken), read on a connection of its own within about `timeout`, taking nothing:
    /// what a standby shows, forwards to, and waits for.
    public static func currentLease(url: PostgresDatabaseURL, timeout: Duration = .seconds(3)) async throws
        -> (epoch: Int64, holder: String, address: String, isFree: Bool) {
        try await readLease(url: url, timeout: timeout, logger: Logger(label: "asched.postgres", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    /// The writer lease's epoch, holder, address and whether it is free, on a new connection, within `timeout`.
    static func readLease(url: PostgresDatabaseURL, timeout: Duration, logger: Logger) async throws
        -> (epoch: Int64, holder: String, address: String, isFree: Bool) {
        let rows = try await read("SELECT epoch, holder, address, epoch = 0 OR expires_at <= now() FROM asched_writer_lease",
                                  url: url, timeout: timeout, table: leaseTable, operation: "reading the writer lease", logger: logger)
        guard let lease = try rows.first?.decode((Int64, String, String, Bool).self) else {
            throw PostgresStoreError.statementFailed(database: url.description, table: leaseTable,
                                                     operation: "reading the writer lease", reason: "the lease row is missing")
        }
        return lease
    }

    /// The rows of `query`, run on a new connection within about `timeout`.
    static func read(_ query: PostgresQuery, url: PostgresDatabaseURL, timeout: Duration, table: String, operation: String,
                     logger: Logger) async throws -> [PostgresRow] {
        let connection = try await connect(url: url, timeout: timeout, logger: logger)
        do {
            let rows = try await read(query, on: connection, url: url, timeout: timeout, table: table, operation: operation,
                                      logger: logger)
            try? await connection.close()
            return rows
        } catch {
            try? await connection.close()
            throw error
        }
    }

    /// A connection to `url` of its own, established within about `timeout`.
    static func connect(url: PostgresDatabaseURL, timeout: Duration, logger: Logger) async throws -> PostgresConnection {
        var configuration = try Connections.configuration(url)
        configuration.options.connectTimeout = TimeAmount(timeout)
        do {
            return try await PostgresConnection.connect(configuration: configuration, id: 3, logger: logger)
        } catch {
            throw Connections.connectFailure(error, url: url)
        }
    }

    /// The rows of `query` on `connection`, within about `timeout`: past it, the connection is
    /// closed and the statement fails saying so.
    static func read(_ query: PostgresQuery, on connection: PostgresConnection, url: PostgresDatabaseURL, timeout: Duration,
                     table: String, operation: String, logger: Logger) async throws -> [PostgresRow] {
        // A server that accepted the connection and then stopped answering (paused, or its disk
        // hung) would hold the query forever; closing the connection ends it.
        let watchdog = Task {
            try await Task.sleep(for: timeout)
            try? await connection.close()
        }
        defer { watchdog.cancel() }
        let started = ContinuousClock.now
        do {
            return try await connection.query(query, logger: logger).collect()
        } catch {
            throw PostgresStoreError.statementFailed(database: url.description, table: table, operation: operation,
                                                     reason: ContinuousClock.now - started >= timeout
                                                         ? "no answer within \(timeout)" : PostgresStoreError.reason(error))
        }
    }
}
