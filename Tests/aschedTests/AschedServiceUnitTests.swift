import AsyncHTTPClient
import Foundation
import NIOCore
import Testing

/// `tools/asched.service` against the real binary: what the unit runs and the signals it sends.
@Suite struct AschedServiceUnitTests {
    static let unitPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("tools/asched.service").path

    /// The `[Service]` section's settings, by key, in order of appearance.
    static func serviceSettings() throws -> [String: [String]] {
        var settings: [String: [String]] = [:]
        var section = ""
        for line in try String(contentsOfFile: unitPath, encoding: .utf8).split(separator: "\n") {
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.isEmpty || text.hasPrefix("#") { continue }
            if text.hasPrefix("[") { section = text; continue }
            guard section == "[Service]", let equals = text.firstIndex(of: "=") else { continue }
            settings[String(text[..<equals]), default: []].append(String(text[text.index(after: equals)...]))
        }
        return settings
    }

    static func setting(_ key: String) throws -> String {
        let values = try #require(try serviceSettings()[key], "\(unitPath) has no \(key)=")
        try #require(values.count == 1, "\(key)= appears \(values.count) times")
        return values[0]
    }

    /// A signal as the unit names it (`SIGTERM`, or `HUP` in a `kill -HUP`).
    static func signal(named name: String) throws -> Int32 {
        let signals = ["HUP": SIGHUP, "INT": SIGINT, "TERM": SIGTERM, "QUIT": SIGQUIT, "USR1": SIGUSR1, "USR2": SIGUSR2]
        let bare = name.hasPrefix("SIG") ? String(name.dropFirst(3)) : name
        return try #require(signals[bare], "unknown signal \(name)")
    }

    /// Whether this kernel has prctl(PR_SET_MDWE) (Linux 6.3): PR_GET_MDWE answers.
    static let kernelHasMDWE: Bool = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import ctypes, sys; sys.exit(0 if ctypes.CDLL(None).prctl(66, 0, 0, 0, 0) >= 0 else 1)"]
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }()

    @Test func execStartRunsServeWithFlagsItHas() throws {
        let command = try Self.setting("ExecStart").split(separator: " ").map(String.init)
        #expect(command.first?.hasSuffix("/asched") == true && command.dropFirst().first == "serve", "\(command)")
        let help = try AschedBinary.run(["serve", "--help"])
        #expect(help.status == 0)
        let flags = command.filter { $0.hasPrefix("--") }
        #expect(!flags.isEmpty)
        for flag in flags { #expect(help.standardOutput.contains(flag), "\(flag) is not an option of asched serve") }
    }

    @Test func settingsTheDocsRelyOn() throws {
        #expect(try Self.setting("Restart") == "on-failure")
        #expect(try Self.setting("ProtectSystem") == "strict")
        #expect(try Self.setting("StateDirectory") == "asched")
        let stop = try Self.setting("TimeoutStopSec")
        // At least the relay's 30 s bound on a forwarded request, which a stop waits for.
        #expect(stop.hasSuffix("s") && (Int(stop.dropLast()) ?? 0) > 30, "TimeoutStopSec=\(stop)")
        #expect(try Self.setting("ExecReload").hasPrefix("/bin/kill -"))
    }

    @Test func theDaemonExitsZeroOnKillSignalAndStaysUpOnExecReloadsSignal() async throws {
        try await Self.runDaemonThroughTheUnitsSignals(underMemoryDenyWriteExecute: false)
    }

    @Test(.enabled(if: kernelHasMDWE)) func theDaemonRunsUnderMemoryDenyWriteExecute() async throws {
        try #require(try Self.setting("MemoryDenyWriteExecute") == "yes")
        try await Self.runDaemonThroughTheUnitsSignals(underMemoryDenyWriteExecute: true)
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze")))
    func systemdAnalyzeVerifiesTheUnit() throws {
        // verify checks that ExecStart's binary exists: point it at the one built here.
        let directory = FileManager.default.temporaryDirectory.path + "/asched-unit-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let unit = try String(contentsOfFile: Self.unitPath, encoding: .utf8)
            .replacingOccurrences(of: "/usr/local/bin/asched", with: AschedBinary.path)
        try unit.write(toFile: directory + "/asched.service", atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/systemd-analyze")
        process.arguments = ["verify", directory + "/asched.service"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0 && text.isEmpty, "\(text)")
    }

    /// Starts `asched serve` (under the kernel's write-xor-execute rule if asked), enqueues an
    /// event for a service that refuses connections (so a delivery is attempted), sends
    /// ExecReload's signal (the daemon must stay up and healthy), then KillSignal (exit 0).
    static func runDaemonThroughTheUnitsSignals(underMemoryDenyWriteExecute: Bool) async throws {
        let reload = try signal(named: try #require(try setting("ExecReload").split(separator: " ")
            .first { $0.hasPrefix("-") }.map { String($0.dropFirst()) }))
        let stop = try signal(named: try setting("KillSignal"))
        let directory = try ServeCommandTests.daemonDirectory(token: "unit-test-token")
        var command = [AschedBinary.path, "serve", "--config", directory + "/asched.yaml"]
        if underMemoryDenyWriteExecute {
            // PR_SET_MDWE (65) with PR_MDWE_REFUSE_EXEC_GAIN (1) holds across execve.
            command = ["/usr/bin/env", "python3", "-c",
                       "import ctypes, os, sys; ctypes.CDLL(None).prctl(65, 1, 0, 0, 0) == 0 or sys.exit('PR_SET_MDWE failed'); "
                       + "os.execv(sys.argv[1], sys.argv[1:])"] + command
        }
        let (process, port, output) = try ServeCommandTests.start(command)
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        #expect(try await ServeCommandTests.enqueue(client, port: port, service: "bridge", token: "unit-test-token") == 200)

        kill(process.processIdentifier, reload)
        try await Task.sleep(for: .milliseconds(500))
        #expect(process.isRunning, "the daemon did not survive ExecReload's signal")
        if process.isRunning {
            let health = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/healthz"), timeout: .seconds(10))
            _ = try await health.body.collect(upTo: 1 << 16)
            #expect(health.status == .ok)
        }
        try await client.shutdown()

        kill(process.processIdentifier, stop)
        process.waitUntilExit()
        let log = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationReason == .exit && process.terminationStatus == 0, "\(log)")
        let dump = try AschedBinary.run(["dump", directory + "/data", "--type", "enqueued,send-started", "--json"])
        #expect(dump.standardOutput.contains("\"enqueued\"") && dump.standardOutput.contains("\"send-started\""),
                "\(dump.standardOutput)")
    }
}
