import AppServiceSchedulerPostgres
import Foundation
import SegmentLog
import Testing

/// `sslmode` and `sslrootcert` against a real server with TLS on (tools/postgres-test-server
/// makes it a self-signed certificate): the server itself says whether the store's sessions are
/// encrypted.
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
