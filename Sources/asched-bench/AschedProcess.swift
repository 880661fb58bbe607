import AppServiceHTTP
import AsyncHTTPClient
import Foundation
import Glibc
import Synchronization

/// `asched serve` itself in a child process, configured as ``BenchDaemon`` configures the
/// daemon in this process (one service `bench`, ingest token `bench`, hs_token `h`), so that the
/// resident memory read from `/proc` is the daemon's alone. It stores its records in the
/// embedded log (`fsync: always`) or in a PostgreSQL database, where several of them share the
/// records and one holds the writer lease. Its log goes to a file beside its configuration.
struct AschedProcess: Sendable {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Where the records live.
    enum Store: Sendable {
        /// The embedded log in this directory.
        case embedded(directory: String)
        /// A PostgreSQL database (the URL, with its password, goes through the environment as
        /// OPERATIONS.md advises), this instance named `instanceName`.
        case postgres(url: String, instanceName: String)
    }

    /// What `start` waits for.
    enum Readiness: Sendable {
        /// `/healthz` 200: the instance delivers.
        case active
        /// Any answer of `/healthz` (a standby answers 503).
        case listening
    }

    /// The port the daemon's HTTP API listens on.
    let port: Int
    /// `instance_name` on PostgreSQL; the configuration's path on the embedded log.
    let name: String
    private let binary: String
    private let configuration: String
    private let log: String
    private let environment: [String: String]
    private let process: Process
    private let exit = Exit()

    /// The process's end, which its termination handler signals: stopping it awaits that
    /// instead of polling whether it still runs.
    private final class Exit: Sendable {
        private let state = Mutex<(ended: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

        func ended() {
            let waiters = state.withLock { state in
                state.ended = true
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume() }
        }

        func wait() async {
            await withCheckedContinuation { continuation in
                let ended = state.withLock { state in
                    if !state.ended { state.waiters.append(continuation) }
                    return state.ended
                }
                if ended { continuation.resume() }
            }
        }
    }

    /// Writes the configuration and the registration at `base` (a path without extension),
    /// starts `binary` and returns once it is `ready`.
    static func start(binary: String, base: String, store: Store, servicePort: Int,
                      ready: Readiness = .active) async throws -> AschedProcess {
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw Failure(description: "no asched executable at \(binary): build it with `swift build -c release --product asched`, or name it with --asched PATH")
        }
        let port = try ListeningPort.freeLoopback()
        // Absolute, as the configuration resolves relative paths against its own directory.
        let base = URL(fileURLWithPath: base).standardizedFileURL.path
        try FileManager.default.createDirectory(atPath: (base as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        let configuration = base + ".yaml", registration = base + "-registration.yaml"
        try BenchDaemon.registration(servicePort: servicePort).write(toFile: registration, atomically: true, encoding: .utf8)
        var environment = ProcessInfo.processInfo.environment
        let storeKeys: String, name: String
        switch store {
        case .embedded(let directory):
            storeKeys = "data_dir: \(URL(fileURLWithPath: directory).standardizedFileURL.path)\nfsync: always"
            name = configuration
        case .postgres(let url, let instanceName):
            storeKeys = "instance_name: \(instanceName)"
            environment["ASCHED_DATABASE_URL"] = url
            name = instanceName
        }
        try """
            \(storeKeys)
            listen: 127.0.0.1:\(port)
            ingest_token: bench
            registrations: [\(registration)]
            """.write(toFile: configuration, atomically: true, encoding: .utf8)
        let log = base + ".log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let daemon = try AschedProcess(port: port, name: name, binary: binary, configuration: configuration, log: log,
                                       environment: environment)
        try await daemon.waitUntil(ready)
        return daemon
    }

    private init(port: Int, name: String, binary: String, configuration: String, log: String,
                 environment: [String: String]) throws {
        (self.port, self.name, self.binary, self.configuration, self.log, self.environment)
            = (port, name, binary, configuration, log, environment)
        process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["serve", "--config", configuration]
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        let output = FileHandle(forWritingAtPath: log)
        output?.seekToEndOfFile()
        process.standardError = output
        process.terminationHandler = { [exit] _ in exit.ended() }
        try process.run()
    }

    /// The same instance (configuration, port, name) in a new process, as a supervisor restarts it.
    func restarted(ready: Readiness) async throws -> AschedProcess {
        let daemon = try AschedProcess(port: port, name: name, binary: binary, configuration: configuration, log: log,
                                       environment: environment)
        try await daemon.waitUntil(ready)
        return daemon
    }

    private func waitUntil(_ ready: Readiness) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            guard process.isRunning else {
                throw Failure(description: "\(binary) serve --config \(configuration) exited with \(process.terminationStatus); its log: \(log)")
            }
            if let status = await healthStatus(), status == 200 || ready == .listening { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        try await stop()
        throw Failure(description: "\(binary) serve --config \(configuration) was not \(ready) on port \(port) within 30 s; its log: \(log)")
    }

    /// The daemon's resident memory now (VmRSS of its process), in MiB.
    func residentMiB() -> Int {
        ReplayMemory.residentBytes(process: "\(process.processIdentifier)") >> 20
    }

    /// SIGTERM, as an operator stops it, and waits for its exit; throws unless it exits 0.
    func stop() async throws {
        guard process.isRunning else { return }
        process.terminate()
        await exit.wait()
        guard process.terminationStatus == 0 else {
            throw Failure(description: "asched serve exited with \(process.terminationStatus) on SIGTERM; its log: \(log)")
        }
    }

    /// SIGKILL, as a crash of its machine would end it; returns once the process is gone (its
    /// sockets closed), so nothing that arrives anywhere afterwards can come from it.
    func kill() async {
        _ = Glibc.kill(process.processIdentifier, SIGKILL)
        await exit.wait()
    }

    private func healthStatus() async -> UInt? {
        let request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/healthz")
        guard let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(1)) else { return nil }
        _ = try? await response.body.collect(upTo: 1 << 16)
        return response.status.code
    }
}
