import Logging
import PostgresNIO

/// An instance's place in a deployment, renewed on one connection kept between beats. Standbys
/// and delivering instances beat every second; a new connection each time would cost the
/// database a TCP, TLS and login handshake per instance per second.
public actor PostgresHeartbeat {
    private let url: PostgresDatabaseURL
    private let instance: String
    private let logger = Logger(label: "asched.postgres", factory: { _ in SwiftLogNoOpLogHandler() })
    private var connection: PostgresConnection?
    /// Connections opened so far: one while the database keeps answering on it.
    public private(set) var connectionsOpened = 0

    /// Beats for `instance` on the database at `url`; connects at the first beat.
    public init(url: PostgresDatabaseURL, instance: String) {
        self.url = url
        self.instance = instance
    }

    /// Records the instance as alive at `address` for `duration`, then reads the live instances
    /// and the services' leases, within about `timeout`. When the kept connection fails at once
    /// (the server restarted, or something between closed it), a new one decides; when it fails
    /// by giving no answer within `timeout`, the beat fails, and the next one connects anew.
    public func beat(address: String, duration: Duration, timeout: Duration = .seconds(3)) async throws -> PostgresDeployment {
        let query = PostgresDeployment.heartbeat(instance: instance, address: address, duration: duration)
        if let kept = connection, !kept.isClosed {
            let started = ContinuousClock.now
            do {
                return try await read(query, on: kept, timeout: timeout)
            } catch where ContinuousClock.now - started >= timeout {
                await drop(kept)
                throw error
            } catch {
                await drop(kept)
            }
        }
        let fresh = try await PostgresRecordStore.connect(url: url, timeout: timeout, logger: logger)
        connectionsOpened += 1
        connection = fresh
        do {
            return try await read(query, on: fresh, timeout: timeout)
        } catch {
            await drop(fresh)
            throw error
        }
    }

    /// Closes the kept connection; a later beat opens another.
    public func close() async {
        if let connection { await drop(connection) }
    }

    private func read(_ query: PostgresQuery, on connection: PostgresConnection, timeout: Duration) async throws -> PostgresDeployment {
        try PostgresDeployment(rows: try await PostgresRecordStore.read(
            query, on: connection, url: url, timeout: timeout, table: "asched_instances",
            operation: "renewing this instance and reading the deployment", logger: logger))
    }

    private func drop(_ dropped: PostgresConnection) async {
        if connection === dropped { connection = nil }
        try? await dropped.close()
    }
}
