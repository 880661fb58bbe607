import PostgresNIO

/// What went wrong in a ``PostgresRecordStore``, and where: every case names the database by its
/// URL without the password, and the table or position concerned.
public enum PostgresStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The database URL could not be used; the reason never repeats the URL (it may hold a password).
    case invalidURL(reason: String)
    /// The server answered and refused the connection (the login, the database), or TLS with it
    /// failed: waiting does not mend it.
    case connectionFailed(database: String, reason: String)
    /// No server answered: it is down, unreachable, or did not answer in time. Goes away once it is back.
    case serverUnreachable(database: String, reason: String)
    /// The TLS the URL asks for (`sslmode`, `sslrootcert`) cannot be set up on this side.
    case tlsSetupFailed(database: String, reason: String)
    /// The database was set up by a newer release, whose tables this one cannot read.
    case newerSchema(database: String, version: Int, supportedVersion: Int)
    /// Another store opened the database since this one did, taking the writer lease: the
    /// database refused this store's write, and every later one.
    case fenced(database: String, table: String, epoch: Int64)
    /// A store holding services' leases found a service's lease gone at `incarnation` (it
    /// expired, or another store took the writer lease): the database refused this store's write,
    /// and it writes nothing more.
    case serviceLeaseLost(database: String, table: String, incarnation: Int64)
    /// Another store (`holder`) holds the writer lease of the whole database: no service's lease
    /// can be taken until it expires.
    case writerLeaseHeld(database: String, holder: String)
    /// A record names a service (or none) whose lease this store does not hold.
    case serviceNotLeased(database: String, service: String?)
    /// The store could not renew its writer lease for the lease's whole `duration` (the
    /// database did not answer, or this process was paused): another store may hold it now, so
    /// this one writes nothing more.
    case leaseUnrenewed(database: String, epoch: Int64, duration: String, reason: String)
    /// A statement failed.
    case statementFailed(database: String, table: String, operation: String, reason: String)
    /// A record the caller expects is not in the table.
    case recordMissing(database: String, table: String, position: UInt64)
    /// A row does not hold a record this store wrote.
    case invalidRow(database: String, table: String, position: UInt64, reason: String)
    /// The store was closed.
    case closed(database: String)

    public var description: String {
        switch self {
        case .invalidURL(let reason):
            "the database URL cannot be used: \(reason)"
        case .connectionFailed(let database, let reason):
            "cannot connect to \(database): \(reason); check the URL's user, password, database and TLS parameters"
        case .serverUnreachable(let database, let reason):
            "cannot reach \(database): \(reason); check that the server runs and that this host can reach it"
        case .tlsSetupFailed(let database, let reason):
            "cannot connect to \(database): \(reason)"
        case .newerSchema(let database, let version, let supportedVersion):
            "\(database) holds schema version \(version) (asched_schema), written by a newer release; this one reads "
                + "versions up to \(supportedVersion): upgrade asched, or point it at another database"
        case .fenced(let database, let table, let epoch):
            "\(database) refused a write to \(table): another store took the writer lease after this one's "
                + "(epoch \(epoch)), and only one store writes to a database; this store writes nothing more, reopen it to write again"
        case .serviceLeaseLost(let database, let table, let incarnation):
            "\(database) refused a write to \(table): a service's lease this store held (incarnation \(incarnation)) expired or "
                + "was taken by another store; this store writes nothing more, reopen it to take the leases again"
        case .writerLeaseHeld(let database, let holder):
            "\(database): \(holder.isEmpty ? "another store" : holder) holds the writer lease of the whole database, so no service's "
                + "lease can be taken until it stops and its lease expires"
        case .serviceNotLeased(let database, let service):
            "\(database): this store holds no lease for "
                + (service.map { "the service \($0)" } ?? "a record that names no service") + ", so it cannot write its records"
        case .leaseUnrenewed(let database, let epoch, let duration, let reason):
            "the writer lease (epoch \(epoch)) on \(database) went unrenewed for \(duration), its whole duration (\(reason)); "
                + "another store may hold it now, so this store writes nothing more: reopen it to write again"
        case .statementFailed(let database, let table, let operation, let reason):
            "\(operation) on \(table) in \(database) failed: \(reason)"
        case .recordMissing(let database, let table, let position):
            "\(database): no record at position \(position) in \(table), though the scheduler's state refers to it"
        case .invalidRow(let database, let table, let position, let reason):
            "\(database): the row at position \(position) in \(table) is not a record this store wrote: \(reason)"
        case .closed(let database):
            "the store on \(database) is closed"
        }
    }

    /// Whether the server never answered (``serverUnreachable(database:reason:)``): a failure that
    /// goes away once it is back, unlike a refused login or a missing database.
    public var isUnreachable: Bool {
        if case .serverUnreachable = self { return true }
        return false
    }

    /// What the server or the driver said, without the statement's parameters (record payloads):
    /// `PSQLError`'s own description hides even the server's message.
    static func reason(_ error: any Error) -> String {
        guard let error = error as? PSQLError else { return "\(error)" }
        if let message = error.serverInfo?[.message] {
            let state = error.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? ""
            return message + state
        }
        if let underlying = error.underlying { return "\(error.code): \(underlying)" }
        return "\(error.code)"
    }
}
