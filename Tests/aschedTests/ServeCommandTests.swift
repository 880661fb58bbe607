import AppServiceHTTP
import AsyncHTTPClient
import Foundation
import NIOCore
import Synchronization
import Testing

/// The real `asched serve` process: SIGTERM exits 0 and everything acknowledged is in the log.
@Suite struct ServeCommandTests {
    /// Starts `asched serve`, with `environment` added to this process's, and returns the process
    /// and the port it reports listening on.
    static func start(config: String, environment: [String: String] = [:]) throws -> (Process, Int, Pipe) {
        try start([AschedBinary.path, "serve", "--config", config], environment: environment)
    }

    /// Runs `command` (a daemon, perhaps under a wrapper) and returns the process, the port the
    /// daemon reports listening on, and its output.
    static func start(_ command: [String], environment: [String: String] = [:]) throws -> (Process, Int, Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        var text = ""
        while !text.contains("address=127.0.0.1:") {
            let chunk = output.fileHandleForReading.availableData
            guard !chunk.isEmpty else { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        let port = text.components(separatedBy: "address=127.0.0.1:").dropFirst().first
            .flatMap { Int($0.prefix { $0.isNumber }) }
        return (process, try #require(port, "asched serve did not report its port: \(text)"), output)
    }

    @Test func helpListsEveryConfigurationKey() throws {
        let help = try AschedBinary.run(["serve", "--help"])
        #expect(help.status == 0)
        for key in ConfigurationKey.allCases {
            #expect(help.standardOutput.contains("  \(key.name) (\(key.syntax), default \(key.defaultValue))"), "\(key.name)")
        }
    }

    /// A scratch directory holding `files`.
    static func scratch(_ files: [String: String]) throws -> String {
        let directory = FileManager.default.temporaryDirectory.path + "/asched-serve-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (name, contents) in files {
            try contents.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8)
        }
        return directory
    }

    /// A scratch directory holding `service`'s registration (on the discard port, which refuses)
    /// and `asched.yaml`: `dataDirectory`, a free loopback port, `token`, a 10 s backoff.
    static func daemonDirectory(service: String = "bridge", token: String, dataDirectory: String = "data") throws -> String {
        try scratch([service + ".yaml": registration(service), "asched.yaml": """
            data_dir: \(dataDirectory)
            listen: 127.0.0.1:0
            ingest_token: \(token)
            backoff_initial: 10s
            registrations: [\(service).yaml]
            """])
    }

    static func registration(_ id: String) -> String {
        """
        id: \(id)
        url: http://127.0.0.1:9
        as_token: as_token_of_\(id)
        hs_token: hs_token_of_\(id)
        sender_localpart: \(id)bot
        """
    }

    static func enqueue(_ client: HTTPClient, port: Int, service: String, token: String?,
                        body: String = #"{"events": [{"type": "m.room.message"}]}"#) async throws -> Int {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/_asched/v1/services/\(service)/enqueue")
        request.method = .POST
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await client.execute(request, timeout: .seconds(10))
        _ = try await response.body.collect(upTo: 1 << 16)
        return Int(response.status.code)
    }

    /// Stops `process` with SIGTERM and returns everything it printed.
    static func terminate(_ process: Process, output: Pipe) -> String {
        process.terminate()
        process.waitUntilExit()
        return String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    }

    @Test func sighupReloadsTheRegistrationsAndRefusesABadFile() async throws {
        let config = "data_dir: data\nlisten: 127.0.0.1:0\ningest_token: reload-serve-token\nregistrations: [irc.yaml]\n"
        let directory = try Self.scratch(["irc.yaml": Self.registration("irc"), "slack.yaml": Self.registration("slack"),
                                          "asched.yaml": config])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (process, port, output) = try Self.start(config: directory + "/asched.yaml")
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            #expect(try await Self.enqueue(client, port: port, service: "slack", token: "reload-serve-token") == 404)
            try config.replacingOccurrences(of: "[irc.yaml]", with: "[irc.yaml, slack.yaml]")
                .write(toFile: directory + "/asched.yaml", atomically: true, encoding: .utf8)
            kill(process.processIdentifier, SIGHUP)
            let deadline = ContinuousClock.now + .seconds(10)
            var status = 0
            while status != 200, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
                status = try await Self.enqueue(client, port: port, service: "slack", token: "reload-serve-token")
            }
            #expect(status == 200, "slack receives after SIGHUP")
            try "registrations: [".write(toFile: directory + "/asched.yaml", atomically: true, encoding: .utf8)
            kill(process.processIdentifier, SIGHUP)
            try await Task.sleep(for: .milliseconds(300))
            #expect(process.isRunning)
            #expect(try await Self.enqueue(client, port: port, service: "slack", token: "reload-serve-token") == 200)
        } catch {
            Issue.record("\(error)")
        }
        try await client.shutdown()
        let log = Self.terminate(process, output: output)
        #expect(process.terminationReason == .exit && process.terminationStatus == 0, "\(log)")
        #expect(log.contains("reloaded registrations") && log.contains("reload refused"), "\(log)")
        #expect(!log.contains("reload-serve-token") && !log.contains("hs_token_of_"), "a token reached the log output")
    }

    @Test func theIngestTokenMayComeFromTheEnvironmentAndIsNeverPrinted() async throws {
        let directory = try Self.scratch(["asched.yaml": "data_dir: data\nlisten: 127.0.0.1:0\n"])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (process, port, output) = try Self.start(config: directory + "/asched.yaml",
                                                     environment: ["ASCHED_INGEST_TOKEN": "env-secret-token"])
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            let services = "http://127.0.0.1:\(port)/_asched/v1/services"
            #expect(try await client.execute(HTTPClientRequest(url: services), timeout: .seconds(10)).status == .unauthorized)
            var request = HTTPClientRequest(url: services)
            request.headers.add(name: "Authorization", value: "Bearer env-secret-token")
            #expect(try await client.execute(request, timeout: .seconds(10)).status == .ok)
        } catch {
            Issue.record("\(error)")
        }
        try await client.shutdown()
        let log = Self.terminate(process, output: output)
        #expect(process.terminationStatus == 0 && !log.contains("env-secret-token"), "\(log)")

        // Two sources at once stop start-up, naming both and neither value.
        try "ingest_token: yaml-secret-token\n".write(toFile: directory + "/both.yaml", atomically: true, encoding: .utf8)
        let both = Process()
        both.executableURL = URL(fileURLWithPath: AschedBinary.path)
        both.arguments = ["serve", "--config", directory + "/both.yaml"]
        both.environment = ProcessInfo.processInfo.environment.merging(["ASCHED_INGEST_TOKEN": "env-secret-token"]) { $1 }
        let bothOutput = Pipe()
        both.standardOutput = bothOutput
        both.standardError = bothOutput
        try both.run()
        let text = String(decoding: bothOutput.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        both.waitUntilExit()
        #expect(both.terminationStatus != 0)
        #expect(text.contains("ingest_token: the ingest token is also set by the environment variable ASCHED_INGEST_TOKEN"), "\(text)")
        #expect(!text.contains("secret-token"), "\(text)")
    }

    @Test func helpNamesTheSecretSourcesAndReload() throws {
        let help = try AschedBinary.run(["serve", "--help"])
        #expect(help.standardOutput.contains("ASCHED_INGEST_TOKEN") && help.standardOutput.contains("SIGHUP"))
    }

    /// A SIGTERM while the log opens and replays a backlog, before anything is served, ends the
    /// process with status 0 as one while it serves does (the signal's default action would end it
    /// by the signal), and leaves the log whole.
    @Test func sigtermWhileTheLogReplaysExitsZero() async throws {
        let directory = try Self.daemonDirectory(token: "replay-token")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (first, port, firstOutput) = try Self.start(config: directory + "/asched.yaml")
        // The registration's port refuses, so every event stays queued: a backlog to replay.
        let event = #"{"type": "m.room.message", "content": {"body": "\#(String(repeating: "x", count: 400))"}}"#
        let body = #"{"events": ["# + Array(repeating: event, count: 200).joined(separator: ",") + "]}"
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        var acknowledged = 0
        for _ in 1...100 {
            if try await Self.enqueue(client, port: port, service: "bridge", token: "replay-token", body: body) == 200 { acknowledged += 1 }
        }
        try await client.shutdown()
        #expect(acknowledged == 100)
        _ = Self.terminate(first, output: firstOutput)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: AschedBinary.path)
        process.arguments = ["serve", "--config", directory + "/asched.yaml"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let printed = Mutex("")
        Thread.detachNewThread {
            while case let chunk = output.fileHandleForReading.availableData, !chunk.isEmpty {
                printed.withLock { $0 += String(decoding: chunk, as: UTF8.self) }
            }
        }
        let deadline = ContinuousClock.now + .seconds(30)
        while !printed.withLock({ $0.contains("opening the log") }), process.isRunning, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(1))
        }
        kill(process.processIdentifier, SIGTERM)
        while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        let log = printed.withLock { $0 }
        #expect(!process.isRunning, "asched serve did not stop within 30 s of SIGTERM: \(log)")
        if process.isRunning { process.terminate() }
        #expect(process.terminationReason == .exit && process.terminationStatus == 0, "\(log)")
        let dump = try AschedBinary.run(["dump", directory + "/data", "--type", "enqueued", "--json"])
        #expect(dump.standardOutput.split(separator: "\n").count == acknowledged)
        let verify = try AschedBinary.run(["verify", directory + "/data"])
        #expect(verify.status == 0 && verify.standardOutput.contains("0 errors, 0 warnings"), "\(verify.standardOutput)")
    }

    @Test func sigtermExitsZeroAndKeepsEverythingAcknowledged() async throws {
        let directory = try Self.daemonDirectory(token: "serve-test-token")

        let (process, port, output) = try Self.start(config: directory + "/asched.yaml")
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        var acknowledged = 0
        for number in 1...20 {
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/_asched/v1/services/bridge/enqueue")
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer serve-test-token")
            request.body = .bytes(ByteBuffer(string: #"{"events": [{"type": "m.room.message", "content": {"n": \#(number)}}]}"#))
            let response = try await client.execute(request, timeout: .seconds(10))
            _ = try await response.body.collect(upTo: 1 << 16)
            if response.status == .ok { acknowledged += 1 }
        }
        try await client.shutdown()
        #expect(acknowledged == 20)
        process.terminate()
        process.waitUntilExit()
        let log = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationReason == .exit && process.terminationStatus == 0, "\(log)")
        #expect(!log.contains("hs_token_of_bridge") && !log.contains("serve-test-token"), "a token reached the log output")

        let dump = try AschedBinary.run(["dump", directory + "/data", "--type", "enqueued", "--json"])
        #expect(dump.standardOutput.split(separator: "\n").count == acknowledged)
        let verify = try AschedBinary.run(["verify", directory + "/data"])
        #expect(verify.status == 0 && verify.standardOutput.contains("0 errors, 0 warnings"), "\(verify.standardOutput)")
    }
}
