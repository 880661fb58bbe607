import AppServiceSchedulerPostgres
import Foundation
import Logging
import PostgresNIO
import Testing

/// One throwaway PostgreSQL server per test process (tools/postgres-test-server, stopped by its
/// watchdog when the process ends), and a fresh database on it per test.
actor PostgresTestServer {
    static let shared = PostgresTestServer()

    private struct Server {
        let administration: PostgresDatabaseURL
        let directory: String
    }

    private var started: Result<Server, Unavailable>?
    private var databases = 0

    struct Unavailable: Error, CustomStringConvertible {
        let description: String
    }

    /// Whether the server runs (starting it the first time); when it cannot, says why on stderr, once.
    var isAvailable: Bool {
        get async {
            switch await server() {
            case .success: return true
            case .failure: return false
            }
        }
    }

    /// The server's self-signed certificate (PEM), to verify it with as `sslrootcert`.
    func certificatePath() async throws -> String {
        try await server().get().directory + "/server.crt"
    }

    /// The certificate and key the role `asched_cert` logs in with (pg_hba `cert`), as `sslcert` and `sslkey`.
    func clientCertificatePaths() async throws -> (certificate: String, key: String) {
        let directory = try await server().get().directory
        return (directory + "/client.crt", directory + "/client.key")
    }

    /// A new, empty database, by its URL.
    func freshDatabase() async throws -> PostgresDatabaseURL {
        let server = try await server().get()
        databases += 1
        let name = "asched_test_\(databases)"
        try await Self.execute("CREATE DATABASE \(name)", on: server.administration)
        return PostgresDatabaseURL(user: server.administration.user, password: server.administration.password,
                                   host: server.administration.host, port: server.administration.port, database: name)
    }

    /// Runs `sql` (no parameters) on `database`, returning the rows.
    @discardableResult
    static func execute(_ sql: String, on database: PostgresDatabaseURL) async throws -> [PostgresRow] {
        let logger = Logger(label: "postgres-test-server", factory: { _ in SwiftLogNoOpLogHandler() })
        let connection = try await PostgresConnection.connect(
            configuration: .init(host: database.host, port: database.port, username: database.user,
                                 password: database.password, database: database.database, tls: .disable),
            id: 99, logger: logger)
        do {
            let rows = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger).collect()
            try await connection.close()
            return rows
        } catch {
            try? await connection.close()
            throw error
        }
    }

    /// The single number `sql` selects.
    static func count(_ sql: String, on database: PostgresDatabaseURL) async throws -> Int {
        Int(try #require(try await execute(sql, on: database).first).decode(Int64.self))
    }

    private func server() async -> Result<Server, Unavailable> {
        if let started { return started }
        let result = await Self.start()
        if case .failure(let reason) = result {
            FileHandle.standardError.write(Data("PostgreSQL tests skipped: \(reason)\n".utf8))
        }
        started = result
        return result
    }

    /// A server of its own, for a test that stops it and starts it again (an outage) without
    /// disturbing the tests sharing ``shared``'s; its database `asched_test`, by URL, and its folder.
    static func dedicated() async throws -> (url: PostgresDatabaseURL, directory: String) {
        let server = try await start().get()
        try await execute("CREATE DATABASE asched_test", on: server.administration)
        let url = PostgresDatabaseURL(user: server.administration.user, password: server.administration.password,
                                      host: server.administration.host, port: server.administration.port, database: "asched_test")
        return (url, server.directory)
    }

    /// Stops the server in `directory` at once (as a crash would), keeping its data.
    static func pause(_ directory: String) throws {
        let outcome = try run(script.path, ["pause", directory])
        guard outcome.status == 0 else { throw Unavailable(description: "\(script.path) pause exited with \(outcome.status)") }
    }

    /// Starts the server in `directory` again, on its port.
    static func resume(_ directory: String) throws {
        let outcome = try run(script.path, ["resume", directory])
        guard outcome.status == 0 else { throw Unavailable(description: "\(script.path) resume exited with \(outcome.status)") }
    }

    /// Stops the server in `directory` and removes its folder.
    static func stop(_ directory: String) {
        _ = try? run(script.path, ["stop", directory])
    }

    private static var script: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("tools/postgres-test-server")
    }

    private static func start() async -> Result<Server, Unavailable> {
        let script = Self.script
        let started: (status: Int32, output: String)
        do {
            started = try run(script.path, ["start", "--owner-pid", String(getpid())])
        } catch {
            return .failure(Unavailable(description: "cannot run \(script.path): \(error)"))
        }
        let printed = started.output
        var fields: [String: String] = [:]
        for line in printed.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            fields[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        guard started.status == 0, let url = fields["url"], let directory = fields["dir"],
              let administration = try? PostgresDatabaseURL(url) else {
            return .failure(Unavailable(description: "\(script.path) exited with \(started.status) (its reason is on stderr above)"))
        }
        return .success(Server(administration: administration, directory: directory))
    }
}

/// Runs `path` with `arguments`, its standard error inherited (so why it failed shows in the test
/// output), and returns its exit status and standard output. posix_spawn and waitpid, not
/// Foundation's Process: in this test process, Process never saw the script exit.
private func run(_ path: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    var fds: [Int32] = [0, 0]
    guard fds.withUnsafeMutableBufferPointer({ pipe($0.baseAddress!) }) == 0 else { throw Errno(errno) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
    posix_spawn_file_actions_addclose(&actions, fds[0])
    posix_spawn_file_actions_addclose(&actions, fds[1])
    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, path, &actions, nil, argv, environ)
    close(fds[1])
    defer { close(fds[0]) }
    guard spawned == 0 else { throw Errno(spawned) }
    var output: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = buffer.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) }
        if count > 0 { output += buffer[..<count]; continue }
        if count < 0 && errno == EINTR { continue }
        break
    }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    // WIFEXITED/WEXITSTATUS are macros Swift does not import.
    let exitStatus = status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    return (exitStatus, String(decoding: output, as: UTF8.self))
}

/// An errno value as an error.
private struct Errno: Error, CustomStringConvertible {
    let code: Int32
    init(_ code: Int32) { self.code = code }
    var description: String { String(cString: strerror(code)) }
}

/// Runs the suite's tests only where the test server starts.
let needsPostgres = ConditionTrait.enabled("needs a PostgreSQL server (tools/postgres-test-server); it could not start") {
    await PostgresTestServer.shared.isAvailable
}
