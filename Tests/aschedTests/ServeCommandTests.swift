import AppServiceHTTP
import AsyncHTTPClient
import Foundation
import NIOCore
import Testing

/// The real `asched serve` process: SIGTERM exits 0 and everything acknowledged is in the log.
@Suite struct ServeCommandTests {
    /// Starts `asched serve`, returns the process and the port it reports listening on.
    static func start(config: String) throws -> (Process, Int, Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: AschedBinary.path)
        process.arguments = ["serve", "--config", config]
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

    @Test func sigtermExitsZeroAndKeepsEverythingAcknowledged() async throws {
        let directory = FileManager.default.temporaryDirectory.path + "/asched-serve-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try """
            id: bridge
            url: http://127.0.0.1:9
            as_token: as_token_value
            hs_token: hs_token_value
            sender_localpart: bridgebot
            namespaces:
              users: [{regex: "@bridge_.*", exclusive: true}]
            """.write(toFile: directory + "/bridge.yaml", atomically: true, encoding: .utf8)
        try """
            data_dir: data
            listen: 127.0.0.1:0
            ingest_token: serve-test-token
            backoff_initial: 10s
            registrations: [bridge.yaml]
            """.write(toFile: directory + "/asched.yaml", atomically: true, encoding: .utf8)

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
        #expect(!log.contains("hs_token_value") && !log.contains("serve-test-token"), "a token reached the log output")

        let dump = try AschedBinary.run(["dump", directory + "/data", "--type", "enqueued", "--json"])
        #expect(dump.standardOutput.split(separator: "\n").count == acknowledged)
        let verify = try AschedBinary.run(["verify", directory + "/data"])
        #expect(verify.status == 0 && verify.standardOutput.contains("0 errors, 0 warnings"), "\(verify.standardOutput)")
    }
}
