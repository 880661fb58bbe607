import AsyncHTTPClient
import Foundation
import Glibc

/// `asched serve` itself in a child process, configured as ``BenchDaemon`` configures the
/// daemon in this process (one service `bench`, ingest token `bench`, hs_token `h`, fsync
/// always), so that the resident memory read from `/proc` is the daemon's alone. Its log goes
/// to a file beside the data directory.
struct AschedProcess {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// The port the daemon's HTTP API listens on.
    let port: Int
    private let process: Process

    /// Writes the configuration and the registration beside `directory` (the log's), starts
    /// `binary` and returns once its `/healthz` answers 200.
    static func start(binary: String, directory: String, servicePort: Int) async throws -> AschedProcess {
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw Failure(description: "no asched executable at \(binary): build it with `swift build -c release --product asched`, or name it with --asched PATH")
        }
        let port = try freePort()
        // Absolute, as the configuration resolves relative paths against its own directory.
        let directory = URL(fileURLWithPath: directory).standardizedFileURL.path
        try FileManager.default.createDirectory(atPath: (directory as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        let configuration = directory + ".yaml", registration = directory + "-registration.yaml"
        try BenchDaemon.registration(servicePort: servicePort).write(toFile: registration, atomically: true, encoding: .utf8)
        try """
            data_dir: \(directory)
            listen: 127.0.0.1:\(port)
            ingest_token: bench
            fsync: always
            registrations: [\(registration)]
            """.write(toFile: configuration, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["serve", "--config", configuration]
        let log = directory + ".log"
        FileManager.default.createFile(atPath: log, contents: nil)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: log)
        try process.run()
        let daemon = AschedProcess(port: port, process: process)
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            guard process.isRunning else {
                throw Failure(description: "\(binary) serve --config \(configuration) exited with \(process.terminationStatus); its log: \(log)")
            }
            if await daemon.healthy() { return daemon }
            try await Task.sleep(for: .milliseconds(20))
        }
        try await daemon.stop()
        throw Failure(description: "\(binary) serve --config \(configuration) did not answer /healthz on port \(port) within 30 s; its log: \(log)")
    }

    /// The daemon's resident memory now (VmRSS of its process), in MiB.
    func residentMiB() -> Int {
        ReplayMemory.residentBytes(process: "\(process.processIdentifier)") >> 20
    }

    /// SIGTERM, as an operator stops it, and waits for its exit; throws unless it exits 0.
    func stop() async throws {
        process.terminate()
        while process.isRunning { try await Task.sleep(for: .milliseconds(10)) }
        guard process.terminationStatus == 0 else {
            throw Failure(description: "asched serve exited with \(process.terminationStatus) on SIGTERM")
        }
    }

    private func healthy() async -> Bool {
        let request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/healthz")
        guard let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(1)) else { return false }
        _ = try? await response.body.collect(upTo: 1 << 16)
        return response.status == .ok
    }

    /// A port nothing listens on now: bound to port 0 and closed again (the daemon binds it
    /// a moment later; another process taking it in between makes the start fail, not lie).
    private static func freePort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw Failure(description: "socket(): errno \(errno)") }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(descriptor, pointer, length) == 0 && getsockname(descriptor, pointer, &length) == 0
            }
        }
        guard bound else { throw Failure(description: "binding a loopback port: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
