import Logging
import NIOSSL
import PostgresNIO
import Synchronization

/// A store's two connections: one its writer task commits appends on, in order; one for reads
/// and compaction, so a backlog read never waits behind a commit.
struct Connections {
    let write: PostgresConnection
    let read: PostgresConnection

    static func open(_ url: PostgresDatabaseURL, logger: Logger) async throws -> Connections {
        let configuration = try configuration(url)
        let write = try await connect(url, configuration, id: 1, logger: logger)
        do {
            let read = try await connect(url, configuration, id: 2, logger: logger)
            return Connections(write: write, read: read)
        } catch {
            try? await write.close()
            throw error
        }
    }

    /// Built once per URL in a process: a TLS context reads `sslrootcert` and sets up a whole
    /// SSL context, which a standby's lease poll (every second), each `/healthz` and every
    /// reconnect would otherwise repeat.
    private static let configurations = Mutex<[PostgresDatabaseURL: PostgresConnection.Configuration]>([:])

    /// How to reach `url`'s server, encryption included; throws when `sslrootcert` cannot be
    /// read (and reads it again next time, so a file put right is used without a restart).
    static func configuration(_ url: PostgresDatabaseURL) throws -> PostgresConnection.Configuration {
        if let built = configurations.withLock({ $0[url] }) { return built }
        let configuration = PostgresConnection.Configuration(host: url.host, port: url.port, username: url.user, password: url.password,
                                                             database: url.database, tls: try tls(url))
        configurations.withLock { $0[url] = configuration }
        return configuration
    }

    /// `sslmode` as libpq reads it: `prefer` and `require` encrypt without checking the
    /// certificate (`require` checks it against `sslrootcert` when one is given), `verify-ca`
    /// checks its chain, `verify-full` its chain and the host it names.
    private static func tls(_ url: PostgresDatabaseURL) throws -> PostgresConnection.Configuration.TLS {
        var tls = TLSConfiguration.makeClientConfiguration()
        switch url.tlsMode {
        case .disable: return .disable
        case .prefer: tls.certificateVerification = .none
        case .require: tls.certificateVerification = url.rootCertificatePath == nil ? .none : .noHostnameVerification
        case .verifyCA: tls.certificateVerification = .noHostnameVerification
        case .verifyFull: tls.certificateVerification = .fullVerification
        }
        if let path = url.rootCertificatePath {
            tls.trustRoots = .certificates(try certificates(in: path, parameter: "sslrootcert", url: url))
        }
        if let certificatePath = url.clientCertificatePath, let keyPath = url.clientKeyPath {
            tls.certificateChain = try certificates(in: certificatePath, parameter: "sslcert", url: url).map { .certificate($0) }
            do {
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyPath, format: .pem))
            } catch {
                throw PostgresStoreError.tlsSetupFailed(database: url.description,
                                                        reason: "sslkey \(keyPath) is not a readable PEM private key: \(error)")
            }
        }
        let context: NIOSSLContext
        do {
            context = try NIOSSLContext(configuration: tls)
        } catch {
            throw PostgresStoreError.tlsSetupFailed(database: url.description, reason: "cannot set up TLS: \(error)")
        }
        return url.tlsMode == .prefer ? .prefer(context) : .require(context)
    }

    /// The certificates of the PEM file `path`, which the URL's `parameter` names: at least one.
    private static func certificates(in path: String, parameter: String, url: PostgresDatabaseURL) throws -> [NIOSSLCertificate] {
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMFile(path)
        } catch {
            throw PostgresStoreError.tlsSetupFailed(database: url.description,
                                                    reason: "\(parameter) \(path) is not a readable PEM file of certificates: \(error)")
        }
        guard !certificates.isEmpty else {
            throw PostgresStoreError.tlsSetupFailed(database: url.description, reason: "\(parameter) \(path) holds no certificate")
        }
        return certificates
    }

    static func connect(_ url: PostgresDatabaseURL, _ configuration: PostgresConnection.Configuration, id: Int,
                        logger: Logger) async throws -> PostgresConnection {
        try await connect(url, configuration, id: id, on: PostgresConnection.defaultEventLoopGroup.any(), logger: logger).get()
    }

    /// A connection whose commits wait for the disk: a server or role set to acknowledge commits
    /// before they are on disk would make `durable()` a lie, so the session says so whatever they say.
    static func connect(_ url: PostgresDatabaseURL, _ configuration: PostgresConnection.Configuration, id: Int,
                        on eventLoop: any EventLoop, logger: Logger) -> EventLoopFuture<PostgresConnection> {
        PostgresConnection.connect(on: eventLoop, configuration: configuration, id: id, logger: logger)
            .flatMapErrorThrowing { error in throw connectFailure(error, url: url) }
            .flatMap { connection in
                connection.query("SET synchronous_commit = on", logger: logger).map { _ in connection }
                    .flatMapError { error in
                        connection.close().flatMapThrowing { throw connectFailure(error, url: url) }
                    }
            }
    }

    /// A failed connect, classified where it failed: ``PostgresStoreError/serverUnreachable(database:reason:)``
    /// when no server answered (down, unreachable, no answer in time), which goes away once it is
    /// back; ``PostgresStoreError/connectionFailed(database:reason:)`` when it did answer (a
    /// refused login, a missing database) or TLS failed (a certificate not trusted, a server
    /// without TLS), which waiting does not mend.
    static func connectFailure(_ error: any Error, url: PostgresDatabaseURL) -> PostgresStoreError {
        if let error = error as? PostgresStoreError { return error }
        let reason = PostgresStoreError.reason(error)
        guard let error = error as? PSQLError else { return .serverUnreachable(database: url.description, reason: reason) }
        let serverAnswered = error.serverInfo != nil
        let tlsFailed = error.code == .sslUnsupported || error.underlying is NIOSSLError || error.underlying is BoringSSLError
        return serverAnswered || tlsFailed ? .connectionFailed(database: url.description, reason: reason)
            : .serverUnreachable(database: url.description, reason: reason)
    }

    func close() async {
        try? await write.close()
        try? await read.close()
    }
}

/// The connection failed, not the statement: the server went away, or cannot be reached again.
/// What was sent on it may or may not have committed.
struct ConnectionLost: Error {
    let reason: String

    init(reason: String) {
        self.reason = reason
    }

    /// `connection`, unless it is closed: PostgresNIO never completes a query sent on a closed
    /// connection (its write fails with no one to tell), so a lost one must not be given any.
    static func check(_ connection: PostgresConnection) throws -> PostgresConnection {
        guard !connection.isClosed else { throw ConnectionLost(reason: "the connection was closed (by the server, or a network failure)") }
        return connection
    }

    /// `error` as a lost connection, or nil when the server answered it (a statement's own failure).
    init?(_ error: any Error) {
        if let lost = error as? ConnectionLost {
            reason = lost.reason
        } else if let error = error as? PSQLError {
            guard [.serverClosedConnection, .connectionError, .uncleanShutdown, .clientClosedConnection].contains(error.code) else {
                return nil
            }
            reason = PostgresStoreError.reason(error)
        } else if case .connectionFailed(_, let reason)? = error as? PostgresStoreError {
            self.reason = reason
        } else if case .serverUnreachable(_, let reason)? = error as? PostgresStoreError {
            self.reason = reason
        } else {
            return nil
        }
    }
}
