import Logging
import PostgresNIO

/// A store's two connections: one its writer task commits appends on, in order; one for reads
/// and compaction, so a backlog read never waits behind a commit.
struct Connections {
    let write: PostgresConnection
    let read: PostgresConnection

    static func open(_ url: PostgresDatabaseURL, logger: Logger) async throws -> Connections {
        let configuration = PostgresConnection.Configuration(host: url.host, port: url.port, username: url.user,
                                                             password: url.password, database: url.database, tls: .disable)
        let write = try await connect(url, configuration, id: 1, logger: logger)
        do {
            let read = try await connect(url, configuration, id: 2, logger: logger)
            return Connections(write: write, read: read)
        } catch {
            try? await write.close()
            throw error
        }
    }

    private static func connect(_ url: PostgresDatabaseURL, _ configuration: PostgresConnection.Configuration, id: Int,
                                logger: Logger) async throws -> PostgresConnection {
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(configuration: configuration, id: id, logger: logger)
        } catch {
            throw PostgresStoreError.connectionFailed(database: url.description, reason: PostgresStoreError.reason(error))
        }
        do {
            // A server or role set to acknowledge commits before they are on disk would make
            // `durable()` a lie; this session's commits wait for the disk whatever it says.
            try await connection.query("SET synchronous_commit = on", logger: logger)
        } catch {
            try? await connection.close()
            throw PostgresStoreError.connectionFailed(database: url.description, reason: PostgresStoreError.reason(error))
        }
        return connection
    }

    func close() async {
        try? await write.close()
        try? await read.close()
    }
}
