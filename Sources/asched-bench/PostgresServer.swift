import Foundation

/// A throwaway PostgreSQL server for the database scenarios: `tools/postgres-test-server start`
/// as a child process (it installs Debian's postgresql when missing and runs the server as the
/// postgres user), a fresh database per scenario, and `psql` for what the benchmark reads.
struct PostgresServer: Sendable {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// `postgres://asched:PASSWORD@127.0.0.1:PORT` (no database).
    private let base: String
    private let password: String
    private let script: String
    /// The server's folder (`dir=` of the script).
    let directory: String

    /// Starts one, stopped by the script's watchdog should this process die first. With
    /// `fsync`, it keeps PostgreSQL's defaults for `fsync` and `full_page_writes` (on,
    /// `--durable`): the script turns them off for throwaway test data, which would leave a
    /// commit in the OS's cache while the embedded log compared with it syncs.
    static func start(script: String, fsync: Bool) throws -> PostgresServer {
        guard FileManager.default.isExecutableFile(atPath: script) else {
            throw Failure(description: "no \(script): run from the package's folder or name it with --postgres-server PATH")
        }
        let output = try run(script, ["start", "--owner-pid", "\(getpid())"] + (fsync ? ["--durable"] : []))
        let fields = Dictionary(output.split(separator: "\n").compactMap { line -> (String, String)? in
            guard let equals = line.firstIndex(of: "=") else { return nil }
            return (String(line[..<equals]), String(line[line.index(after: equals)...]))
        }, uniquingKeysWith: { $1 })
        guard let url = fields["url"], let directory = fields["dir"], let slash = url.lastIndex(of: "/"),
              let colon = url.dropFirst("postgres://".count).firstIndex(of: ":"), let at = url.lastIndex(of: "@") else {
            throw Failure(description: "\(script) start printed no url= and dir=: \(output)")
        }
        return PostgresServer(base: String(url[..<slash]), password: String(url[url.index(after: colon)..<at]),
                              script: script, directory: directory)
    }

    /// The URL of database `name`, with the password.
    func url(database name: String) -> String { "\(base)/\(name)" }

    /// Creates database `name` and returns its URL.
    func createDatabase(_ name: String) throws -> String {
        _ = try query("CREATE DATABASE \(name)", database: "postgres")
        return url(database: name)
    }

    /// Drops database `name`, closing what is still connected to it.
    func dropDatabase(_ name: String) throws {
        _ = try query("DROP DATABASE IF EXISTS \(name) WITH (FORCE)", database: "postgres")
    }

    /// What `psql` prints for `sql` in `database`: unaligned, tuples only, `|` between fields.
    func query(_ sql: String, database: String) throws -> String {
        // The password through the environment, not psql's command line.
        let withoutPassword = base.replacingOccurrences(of: ":\(password)@", with: "@")
        return try Self.run("/usr/bin/psql", ["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-d", "\(withoutPassword)/\(database)", "-c", sql],
                            environment: ["PGPASSWORD": password]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Stops the server and removes its folder.
    func stop() throws {
        _ = try Self.run(script, ["stop", directory])
    }

    private static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> String {
        // posix_spawn and waitpid, not Process: Foundation did not notice the exit of runuser
        // once pg_ctl had started the server (a zombie, and waitUntilExit waiting on). Output
        // to a file, not a pipe, for the server started would hold a pipe open.
        let outputPath = NSTemporaryDirectory() + "asched-bench-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let environ = ProcessInfo.processInfo.environment.merging(environment) { $1 }.map { strdup("\($0)=\($1)") } + [nil]
        defer { (argv + environ).forEach { free($0) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard spawned == 0 else { throw Failure(description: "\(executable): posix_spawn error \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        // Exited normally with status 0 (WIFEXITED and WEXITSTATUS, which Swift does not import).
        guard status & 0xFFFF == 0 else {
            throw Failure(description: "\(executable) \(arguments.first ?? "") ended with wait status \(status): \(text)")
        }
        return text
    }
}
