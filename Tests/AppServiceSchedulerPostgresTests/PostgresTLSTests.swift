import AppServiceSchedulerPostgres
import Foundation
import SegmentLog
import Testing

/// `sslmode`, `sslrootcert`, `sslcert` and `sslkey` against a real server with TLS on
/// (tools/postgres-test-server makes it a self-signed certificate, and an authority for client
/// certificates): the server itself says whether the store's sessions are encrypted, and with
/// which certificate.
@Suite(needsPostgres) struct PostgresTLSTests {
    /// `url` with `query` appended.
    static func url(_ url: PostgresDatabaseURL, _ query: String) throws -> PostgresDatabaseURL {
        try PostgresDatabaseURL("postgres://\(url.user):\(url.password ?? "")@\(url.host):\(url.port)/\(url.database)?\(query)")
    }

    /// The store's sessions on `url`'s database (every session there but the test's own), and how
    /// many of them are encrypted.
    static func sessions(on url: PostgresDatabaseURL) async throws -> (all: Int, encrypted: Int) {
        let row = try #require(try await PostgresTestServer.execute("""
            SELECT count(*), count(*) FILTER (WHERE s.ssl) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
            WHERE a.datname = '\(url.database)' AND a.pid <> pg_backend_pid()
            """, on: url).first)
        let (all, encrypted) = try row.decode((Int64, Int64).self)
        return (Int(all), Int(encrypted))
    }

    @Test(arguments: [("", true), ("sslmode=disable", false), ("sslmode=require", true), ("sslmode=verify-ca&sslrootcert=CERT", true),
                      ("sslmode=verify-full&sslrootcert=CERT", true)])
    func theSessionsAreEncryptedAsTheURLAsks(query: String, encrypted: Bool) async throws {
        let database = try await PostgresTestServer.shared.freshDatabase()
        let url = query.isEmpty ? database
            : try Self.url(database, query.replacingOccurrences(of: "CERT", with: try await PostgresTestServer.shared.certificatePath()))
        let store = try await PostgresRecordStore.open(url: url)
        try await store.beginAppend(contentsOf: [LogEntry(type: 1, payload: [1])]).durable()
        let sessions = try await Self.sessions(on: database)
        #expect(sessions.all == 2 && sessions.encrypted == (encrypted ? 2 : 0), "\(query): \(sessions)")
        try await store.close()
    }

    @Test func aCertificateNoTrustedAuthoritySignedIsRefused() async throws {
        let database = try await PostgresTestServer.shared.freshDatabase()
        let error = await #expect(throws: PostgresStoreError.self) {
            try await PostgresRecordStore.open(url: try Self.url(database, "sslmode=verify-full"))
        }
        guard case .connectionFailed(let name, let reason)? = error else {
            Issue.record("not a connection failure: \(String(describing: error))")
            return
        }
        #expect(name == "\(try Self.url(database, "sslmode=verify-full"))" && name.hasSuffix("?sslmode=verify-full"))
        #expect(reason.lowercased().contains("certificate"), "\(reason)")
    }

    /// `database` as the role the server lets in by certificate alone, over TLS, with `sslcert` and `sslkey` when given.
    static func asCertificateRole(_ database: PostgresDatabaseURL, certificate: (certificate: String, key: String)?) -> PostgresDatabaseURL {
        PostgresDatabaseURL(user: "asched_cert", password: nil, host: database.host, port: database.port, database: database.database,
                            tlsMode: .require, clientCertificatePath: certificate?.certificate, clientKeyPath: certificate?.key)
    }

    /// The role asched_cert logs in by certificate (pg_hba `cert`): with `sslcert` and `sslkey` the
    /// server sees the store's sessions present it; without, it refuses the login, which is not
    /// an outage to wait out.
    @Test func aClientCertificateLogsIn() async throws {
        let database = try await PostgresTestServer.shared.freshDatabase()
        let paths = try await PostgresTestServer.shared.clientCertificatePaths()
        let store = try await PostgresRecordStore.open(url: Self.asCertificateRole(database, certificate: paths))
        try await store.beginAppend(contentsOf: [LogEntry(type: 1, payload: [1])]).durable()
        let presented = try await PostgresTestServer.execute("""
            SELECT coalesce(s.client_dn, '') FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
            WHERE a.datname = '\(database.database)' AND a.pid <> pg_backend_pid()
            """, on: database).map { try $0.decode(String.self) }
        #expect(presented == ["/CN=asched_cert", "/CN=asched_cert"])
        try await store.close()

        let error = await #expect(throws: PostgresStoreError.self) {
            try await PostgresRecordStore.open(url: Self.asCertificateRole(database, certificate: nil))
        }
        guard case .connectionFailed(_, let reason)? = error else {
            Issue.record("not a refused login: \(String(describing: error))")
            return
        }
        #expect(reason.contains("certificate") && !error!.isUnreachable, "\(reason)")
    }

    @Test func anUnreadableClientKeyIsNamed() async throws {
        let database = try await PostgresTestServer.shared.freshDatabase()
        let paths = try await PostgresTestServer.shared.clientCertificatePaths()
        let error = await #expect(throws: PostgresStoreError.self) {
            try await PostgresRecordStore.open(url: Self.asCertificateRole(database, certificate: (paths.certificate, paths.certificate)))
        }
        guard case .tlsSetupFailed(_, let reason)? = error else {
            Issue.record("not a TLS set-up failure: \(String(describing: error))")
            return
        }
        #expect(reason.hasPrefix("sslkey \(paths.certificate) is not a readable PEM private key"), "\(reason)")
    }

    @Test func anUnreadableRootCertificateIsNamed() async throws {
        let database = try await PostgresTestServer.shared.freshDatabase()
        let missing = FileManager.default.temporaryDirectory.path + "/no-such-root-\(UUID().uuidString).pem"
        let error = await #expect(throws: PostgresStoreError.self) {
            try await PostgresRecordStore.open(url: try Self.url(database, "sslmode=verify-full&sslrootcert=\(missing)"))
        }
        guard case .tlsSetupFailed(_, let reason)? = error else {
            Issue.record("not a TLS set-up failure: \(String(describing: error))")
            return
        }
        #expect(reason.hasPrefix("sslrootcert \(missing) is not a readable PEM file of certificates"), "\(reason)")
    }
}
