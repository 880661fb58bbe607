import AppServiceHTTP
import AppServiceSchedulerPostgres
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

/// Two real `asched serve` processes on one database, active and standby: the standby forwards
/// what it receives to the active instance (relay dedupe included), and takes
/// over within 10 s of the active one's SIGKILL and resends with the same ids and bytes; an
/// active instance paused (SIGSTOP) past its lease is replaced, and once resumed its writes are
/// refused and it steps down to a standby.
@Suite(needsPostgres) struct PostgresFailoverTests {
    /// An `asched serve` process, its output drained into a buffer.
    final class Instance: Sendable {
        /// The process's output so far.
        final class Output: Sendable {
            let text = Mutex("")
        }

        let process: Process
        let port: Int
        /// `https` when the instance serves TLS.
        let scheme: String
        private let output = Output()

        /// Starts `asched serve` and returns once it listens (delivering, or as a standby), with
        /// the service "bridge" at `applicationService` and each of `more` (ids and ports),
        /// registered as bridge is (its name in place of bridge's). With `tls` (a certificate and
        /// its key), `listen` serves HTTPS.
        init(database: PostgresDatabaseURL, name: String, applicationService: Int, more: [(id: String, port: Int)] = [],
             tls: (certificate: String, key: String)? = nil) async throws {
            let directory = FileManager.default.temporaryDirectory.path + "/asched-postgres-failover/" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            for (id, servicePort) in [("bridge", applicationService)] + more {
                try PostgresDaemon.registration.replacingOccurrences(of: "http://127.0.0.1:9/", with: "http://127.0.0.1:\(servicePort)/")
                    .replacingOccurrences(of: "bridge", with: id)
                    .write(toFile: directory + "/\(id).yaml", atomically: true, encoding: .utf8)
            }
            let registrations = (["bridge"] + more.map(\.id)).map { "\($0).yaml" }.joined(separator: ", ")
            // A fixed port, as in production: a standby's server hands it over to the active one's.
            port = try ListeningPort.freeLoopback()
            let https = tls.map { "tls_certificate: \($0.certificate)\ntls_key: \($0.key)\n" } ?? ""
            try ("listen: 127.0.0.1:\(port)\ninstance_name: \(name)\nbackoff_initial: 100ms\nbackoff_max: 200ms\n"
                 + "registrations: [\(registrations)]\n" + https)
                .write(toFile: directory + "/asched.yaml", atomically: true, encoding: .utf8)
            scheme = tls == nil ? "http" : "https"
            process = Process()
            process.executableURL = PostgresCommandTests.aschedPath
            process.arguments = ["serve", "--config", directory + "/asched.yaml"]
            process.environment = ProcessInfo.processInfo.environment
                .merging([DaemonConfiguration.databaseURLVariable: PostgresDaemon.urlWithPassword(database)]) { $1 }
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            try process.run()
            let output = self.output
            // Drained all along: a full pipe would stop the daemon at its next log line.
            Thread.detachNewThread {
                while true {
                    let chunk = pipe.fileHandleForReading.availableData
                    if chunk.isEmpty { return }
                    output.text.withLock { $0 += String(decoding: chunk, as: UTF8.self) }
                }
            }
            let listening = "address=127.0.0.1:\(port)"
            try await eventually("asched serve (\(name)) listens on \(port)") { [process] in
                output.text.withLock { $0.contains(listening) } || !process.isRunning
            }
            try #require(process.isRunning, "asched serve (\(name)) exited: \(log)")
        }

        var log: String { output.text.withLock { $0 } }

        func get(_ client: HTTPClient, _ path: String) async throws -> (status: Int, json: [String: Any]) {
            try await request(client, .GET, path, body: nil)
        }

        func enqueue(_ client: HTTPClient, _ number: Int, to service: String = "bridge", headers: [(String, String)] = []) async throws -> Int {
            try await request(client, .POST, "/_asched/v1/services/\(service)/enqueue",
                              body: #"{"events": [{"type": "m.room.message", "content": {"n": \#(number)}}]}"#, headers: headers).status
        }

        /// `POST /_asched/v1/events`, one event per (service, number), sent by that service's user;
        /// the answer's `routed` counts.
        func events(_ client: HTTPClient, _ events: [(service: String, number: Int)]) async throws -> (status: Int, routed: [String: Int]) {
            let list = events.map { #"{"type": "m.room.message", "sender": "@\#($0.service)_amy:example.org", "room_id": "!r:example.org", "#
                + #""content": {"n": \#($0.number)}}"# }
            let answer = try await request(client, .POST, "/_asched/v1/events", body: #"{"events": ["# + list.joined(separator: ",") + "]}")
            return (answer.status, answer.json["routed"] as? [String: Int] ?? [:])
        }

        /// The homeserver's transaction `id`, one event carrying `number`, pushed to the relay.
        func relay(_ client: HTTPClient, transaction id: String, _ number: Int) async throws -> Int {
            try await request(client, .PUT, "/_asched/v1/relay/bridge/_matrix/app/v1/transactions/\(id)",
                              body: #"{"events": [{"event_id": "$\#(number)", "type": "m.room.message", "room_id": "!room:localhost", "#
                                  + #""sender": "@amy:localhost", "content": {"n": \#(number)}}]}"#,
                              headers: [("Authorization", "Bearer hs_bridge_token")]).status
        }

        private func request(_ client: HTTPClient, _ method: HTTPMethod, _ path: String, body: String?,
                             headers: [(String, String)] = []) async throws -> (status: Int, json: [String: Any]) {
            var request = HTTPClientRequest(url: "\(scheme)://127.0.0.1:\(port)\(path)")
            request.method = method
            request.headers.add(contentsOf: headers)
            if let body { request.body = .bytes(ByteBuffer(string: body)) }
            let response = try await client.execute(request, timeout: .seconds(10))
            let bytes = try await response.body.collect(upTo: 1 << 20)
            return (Int(response.status.code), (try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView))) as? [String: Any] ?? [:])
        }
    }

    static func numbers(_ body: [UInt8]) -> [Int] {
        let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
        return (object?["events"] as? [[String: Any]] ?? []).compactMap { ($0["content"] as? [String: Any])?["n"] as? Int }
    }

    @Test func theStandbyTakesOverAKilledOwnerAndAPausedOwnerStepsDown() async throws {
        let url = try await PostgresTestServer.shared.freshDatabase()
        let service = try await FailoverApplicationService.start()
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let instances = Mutex<[Instance]>([])
        defer { for instance in instances.withLock({ $0 }) where instance.process.isRunning { kill(instance.process.processIdentifier, SIGKILL) } }
        do {
            let east = try await Instance(database: url, name: "east", applicationService: service.port)
            instances.withLock { $0.append(east) }
            try await eventually("east is active") { try await east.get(client, "/healthz").status == 200 }
            let west = try await Instance(database: url, name: "west", applicationService: service.port)
            instances.withLock { $0.append(west) }
            try await eventually("west forwards to east") {
                let standby = try await west.get(client, "/healthz")
                return standby.status == 503 && standby.json["status"] as? String == "standby" && standby.json["active"] as? String == "east"
                    && standby.json["forwarding_to"] as? String == "http://127.0.0.1:\(east.port)"
            }
            #expect(try await west.enqueue(client, 0) == 200, "a standby forwards an enqueue to the active instance")
            #expect(try await west.enqueue(client, -1, headers: [("X-Asched-Forwarded-By", "north")]) == 503,
                    "a request another instance forwarded is not forwarded again")
            // The homeserver retries a transaction on another instance: the active one takes it once.
            #expect(try await east.relay(client, transaction: "hs-1", 100) == 200)
            #expect(try await west.relay(client, transaction: "hs-1", 100) == 200)
            try await eventually("0 and 100 delivered") { Set(service.attempts.filter(\.accepted).flatMap { Self.numbers($0.body) }) == [0, 100] }
            let acceptedBefore = service.attempts.filter(\.accepted).count

            // The service refuses: east keeps retrying transaction 1 while the rest queue up.
            service.refuse(true)
            for number in 1...3 { #expect(try await east.enqueue(client, number) == 200) }
            try await eventually("east tried the next transaction") { service.attempts.filter { !$0.accepted }.count >= 2 }
            let refused = try #require(service.attempts.first { !$0.accepted })
            // Killed before the service accepts, so that the transaction it accepts is west's resend.
            kill(east.process.processIdentifier, SIGKILL)
            service.refuse(false)
            let takeover = try await eventually("west took over") { try await west.get(client, "/healthz").status == 200 }
            #expect(takeover < .seconds(10), "west took over after \(takeover)")
            // A retry east had written just before the kill may still reach the service after it
            // stops refusing: transaction 1 is then accepted twice, with the same id and bytes.
            try await eventually("1, 2 and 3 delivered") {
                Set(service.attempts.filter(\.accepted).dropFirst(acceptedBefore).flatMap { Self.numbers($0.body) }) == [1, 2, 3]
            }
            let all = service.attempts.filter(\.accepted)
            let accepted = all.dropFirst(acceptedBefore)
            #expect(accepted.first?.id == refused.id && accepted.first?.body == refused.body, "the same id with the same bytes")
            #expect(zip(all, all.dropFirst()).allSatisfy { $0.id <= $1.id }, "new ids strictly increase")
            let idsOfNumber = Dictionary(grouping: all.flatMap { attempt in Self.numbers(attempt.body).map { (number: $0, id: attempt.id) } },
                                         by: \.number).mapValues { Set($0.map(\.id)) }
            #expect(idsOfNumber.values.allSatisfy { $0.count == 1 }, "no event under two ids: \(idsOfNumber)")
            let services = try await west.get(client, "/_asched/v1/services").json["services"] as? [[String: Any]]
            #expect(services?.first?["owner"] as? String == "west")

            // west is paused past its lease: east, back as a standby, takes over; west, resumed, steps down.
            let eastAgain = try await Instance(database: url, name: "east", applicationService: service.port)
            instances.withLock { $0.append(eastAgain) }
            try await eventually("east is a standby") { try await eastAgain.get(client, "/healthz").json["status"] as? String == "standby" }
            kill(west.process.processIdentifier, SIGSTOP)
            // The standby forwards this one to the paused owner, which never answers: east's change
            // to delivering must end it with a retryable 503, not wait for it (up to the forward's
            // 30 s). bridge is assigned to east (the first name), so west may have begun handing it
            // over before the pause: east then answers this one itself, a 200.
            let stalledSince = ContinuousClock.now
            let stalled = Task { (status: try await eastAgain.enqueue(client, 9), answered: ContinuousClock.now) }
            let second = try await eventually("east took over from the paused west") {
                try await eastAgain.get(client, "/healthz").status == 200
            }
            #expect(second < .seconds(10), "east took over after \(second)")
            let (stalledStatus, stalledAnswered) = try await stalled.value
            #expect([503, 200].contains(stalledStatus), "the enqueue east forwarded to the paused west: \(stalledStatus)")
            #expect(stalledAnswered - stalledSince < second + .seconds(5),
                    "answered \(stalledAnswered - stalledSince) after it was sent; east took over after \(second)")
            // The figures docs/OPERATIONS.md quotes.
            print("failover: the standby served \(takeover) after the owner's SIGKILL, \(second) after its SIGSTOP")
            #expect(try await eastAgain.enqueue(client, 4) == 200)
            kill(west.process.processIdentifier, SIGCONT)
            try await eventually("west stepped down and stands by") {
                try await west.get(client, "/healthz").json["status"] as? String == "standby"
            }
            #expect(west.process.isRunning)
            // Resumed, it finds its lease lost, or first sees bridge assigned to east (back while it was paused).
            #expect((west.log.contains("this instance (west) lost a lease of its services") || west.log.contains("assigned anew"))
                        && west.log.contains("stepped down: serving as a standby"),
                    "\(west.log)")
            try await eventually("west forwards to east again") { try await west.enqueue(client, 5) == 200 }
            // 9 too, when east took it.
            let taken: Set = stalledStatus == 200 ? [4, 5, 9] : [4, 5]
            try await eventually("\(taken.sorted()) delivered") {
                Set(service.attempts.filter(\.accepted).flatMap { Self.numbers($0.body) }).isSuperset(of: taken)
            }
            let everything = service.attempts.filter(\.accepted)
            #expect(zip(everything, everything.dropFirst()).allSatisfy { $0.id <= $1.id }, "new ids strictly increase across both takeovers")
            for attempt in service.attempts {
                #expect(service.attempts.allSatisfy { $0.id != attempt.id || $0.body == attempt.body }, "a repeated id has the same bytes")
            }
            let lease = try #require(try await PostgresTestServer.execute("SELECT holder FROM asched_service_leases WHERE service = 'bridge'",
                                                                          on: url).first)
            #expect(try lease.decode(String.self) == "east")
        } catch {
            Issue.record("\(error)")
            for instance in instances.withLock({ $0 }) { Issue.record("the log of the instance on port \(instance.port):\n\(instance.log.suffix(4000))") }
        }
        try await client.shutdown()
        try await service.stop()
    }

    /// Two instances and two services: a lone instance delivers both; once a second joins, each
    /// delivers one, and either serves requests for both (enqueue forwarded to the owner,
    /// `/events` split between them, the listing naming each service's owner); when one is
    /// killed, the other takes its service within 15 s and resends its pending transaction with
    /// the same id and bytes.
    @Test func servicesSpreadOverTheInstancesAndMoveWhenOneDies() async throws {
        let (url, directory) = try await PostgresTestServer.dedicated()
        defer { PostgresTestServer.stop(directory) }
        let bridge = try await FailoverApplicationService.start()
        let irc = try await FailoverApplicationService.start()
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let instances = Mutex<[Instance]>([])
        defer { for instance in instances.withLock({ $0 }) where instance.process.isRunning { kill(instance.process.processIdentifier, SIGKILL) } }
        let start = { (name: String) in
            let instance = try await Instance(database: url, name: name, applicationService: bridge.port, more: [("irc", irc.port)])
            instances.withLock { $0.append(instance) }
            return instance
        }
        let owners = { (instance: Instance) async throws -> [String: String] in
            let listing = try await instance.get(client, "/_asched/v1/services").json["services"] as? [[String: Any]] ?? []
            return Dictionary(uniqueKeysWithValues: listing.compactMap { entry in
                (entry["id"] as? String).flatMap { id in (entry["owner"] as? String).map { (id, $0) } }
            })
        }
        do {
            let east = try await start("east")
            try await eventually("east delivers both services") { try await owners(east) == ["bridge": "east", "irc": "east"] }
            #expect(try await east.enqueue(client, 1) == 200)
            #expect(try await east.enqueue(client, 1, to: "irc") == 200)

            let west = try await start("west")
            let spread = ["bridge": "east", "irc": "west"]
            try await eventually("each instance delivers one service") {
                let seenByEast = try await owners(east)
                let seenByWest = try await owners(west)
                return seenByEast == spread && seenByWest == spread
            }
            // Each instance serves both services: what it does not deliver goes on to the one that does.
            for (number, instance) in [(2, east), (3, west)] {
                #expect(try await instance.enqueue(client, number) == 200)
                #expect(try await instance.enqueue(client, number, to: "irc") == 200)
            }
            let routed = try await east.events(client, [("bridge", 4), ("irc", 4), ("irc", 5)])
            #expect(routed.status == 200 && routed.routed == ["bridge": 1, "irc": 2], "\(routed)")
            try await eventually("everything delivered") {
                Set(bridge.attempts.filter(\.accepted).flatMap { Self.numbers($0.body) }) == [1, 2, 3, 4]
                    && Set(irc.attempts.filter(\.accepted).flatMap { Self.numbers($0.body) }) == [1, 2, 3, 4, 5]
            }

            // irc's service refuses: west has a pending transaction when it dies.
            irc.refuse(true)
            #expect(try await east.enqueue(client, 6, to: "irc") == 200)
            try await eventually("west tried irc's next transaction") { irc.attempts.contains { !$0.accepted } }
            kill(west.process.processIdentifier, SIGKILL)
            west.process.waitUntilExit()
            let takeover = try await eventually("east took irc over") { try await owners(east)["irc"] == "east" }
            // West's instance row and lease run out within 6 s; the rest is east stepping down and
            // taking both services again, which took 10.6 s once with every suite running at once
            // on 2 cores (tools/pg-failover, alone, measures it: 4.7 s median).
            #expect(takeover < .seconds(15), "east delivers irc \(takeover) after west's SIGKILL")
            irc.refuse(false)
            #expect(try await east.enqueue(client, 7, to: "irc") == 200)
            try await eventually("6 and 7 delivered to irc") {
                Set(irc.attempts.filter(\.accepted).flatMap { Self.numbers($0.body) }).isSuperset(of: [6, 7])
            }
            let refused = try #require(irc.attempts.first { !$0.accepted })
            #expect(irc.attempts.contains { $0.accepted && $0.id == refused.id && $0.body == refused.body },
                    "the pending transaction resent with the same id and bytes")
            // An attempt under way when a service moves is sent again by its next instance: the
            // same id with the same bytes, as the spec allows; a new id is always higher.
            let ids = irc.attempts.filter(\.accepted).map(\.id)
            #expect(zip(ids, ids.dropFirst()).allSatisfy { $0 <= $1 }, "irc's ids increase across the moves: \(ids)")
            for attempt in irc.attempts {
                #expect(irc.attempts.allSatisfy { $0.id != attempt.id || $0.body == attempt.body }, "a repeated id has the same bytes")
            }
        } catch {
            Issue.record("\(error)")
            for instance in instances.withLock({ $0 }) { Issue.record("the log of the instance on port \(instance.port):\n\(instance.log.suffix(4000))") }
        }
        try await client.shutdown()
        try await bridge.stop()
        try await irc.stop()
    }

    /// `asched serve` started while the database is down waits as a standby, saying why, and
    /// takes the lease and delivers once the database answers; a later outage longer than the
    /// lease makes it step down and stand by, and it takes over again once the database is back.
    @Test func anInstanceWaitsOutDatabaseOutagesAtStartAndPastItsLease() async throws {
        let (url, directory) = try await PostgresTestServer.dedicated()
        defer { PostgresTestServer.stop(directory) }
        try PostgresTestServer.pause(directory)
        let service = try await FailoverApplicationService.start()
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let instance = try await Instance(database: url, name: "early", applicationService: service.port)
        defer { if instance.process.isRunning { kill(instance.process.processIdentifier, SIGKILL) } }
        do {
            let waiting = try await instance.get(client, "/healthz")
            #expect(waiting.status == 503 && waiting.json["status"] as? String == "standby")
            #expect((waiting.json["reasons"] as? [String])?.contains { $0.hasPrefix("database unreachable: cannot reach \(url)") } == true,
                    "\(waiting.json)")
            #expect(try await instance.enqueue(client, 1) == 503, "nothing is acknowledged before the database answers")
            try PostgresTestServer.resume(directory)
            try await eventually("the instance took the lease") { try await instance.get(client, "/healthz").status == 200 }
            #expect(try await instance.enqueue(client, 2) == 200)
            try await eventually("2 delivered") { service.attempts.filter(\.accepted).flatMap { Self.numbers($0.body) } == [2] }

            try PostgresTestServer.pause(directory)
            try await eventually("the instance stepped down") { instance.log.contains("stepped down: serving as a standby") }
            try PostgresTestServer.resume(directory)
            try await eventually("the instance took the lease again") { try await instance.get(client, "/healthz").status == 200 }
            #expect(instance.process.isRunning)
            #expect(try await instance.enqueue(client, 3) == 200)
            try await eventually("3 delivered") { service.attempts.filter(\.accepted).flatMap { Self.numbers($0.body) } == [2, 3] }
        } catch {
            Issue.record("\(error)\n\(instance.log.suffix(4000))")
        }
        try await client.shutdown()
        try await service.stop()
    }

    /// Instances serving HTTPS with the deployment's own certificate (self-signed here): a
    /// standby trusts it when it forwards.
    @Test func aStandbyForwardsToAnActiveInstanceServingHTTPS() async throws {
        let url = try await PostgresTestServer.shared.freshDatabase()
        // The test server's certificate, for 127.0.0.1: the instances serve it too.
        let certificate = try await PostgresTestServer.shared.certificatePath()
        let tls = (certificate: certificate, key: String(certificate.dropLast("server.crt".count)) + "server.key")
        let service = try await FailoverApplicationService.start()
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(certificateVerification: .none))
        let instances = Mutex<[Instance]>([])
        defer { for instance in instances.withLock({ $0 }) where instance.process.isRunning { kill(instance.process.processIdentifier, SIGKILL) } }
        do {
            let east = try await Instance(database: url, name: "east", applicationService: service.port, tls: tls)
            instances.withLock { $0.append(east) }
            try await eventually("east is active") { try await east.get(client, "/healthz").status == 200 }
            let west = try await Instance(database: url, name: "west", applicationService: service.port, tls: tls)
            instances.withLock { $0.append(west) }
            try await eventually("west forwards to east") {
                try await west.get(client, "/healthz").json["forwarding_to"] as? String == "https://127.0.0.1:\(east.port)"
            }
            #expect(try await west.enqueue(client, 1) == 200)
            try await eventually("1 delivered") { service.attempts.filter(\.accepted).flatMap { Self.numbers($0.body) } == [1] }
        } catch {
            Issue.record("\(error)")
            for instance in instances.withLock({ $0 }) { Issue.record("the log of the instance on port \(instance.port):\n\(instance.log.suffix(4000))") }
        }
        try await client.shutdown()
        try await service.stop()
    }
}
