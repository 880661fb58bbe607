import AsyncHTTPClient
import Foundation
import ArgumentParser
import NIOCore

/// The demo's event source: four clients posting batches of ten events to `/_asched/v1/events`.
actor DemoLoad {
    let client: HTTPClient
    let port: Int
    let token: String
    let total: Int
    private(set) var enqueued = 0

    init(client: HTTPClient, port: Int, token: String, total: Int) {
        self.client = client
        self.port = port
        self.token = token
        self.total = total
    }

    /// Posts every event; takes slack DOWN a third of the way and brings it back three seconds
    /// later. Returns, per service, the events the daemon said it routed there.
    func run(services: DemoApplicationService, progress: @escaping @Sendable () async -> Void) async throws -> [String: Set<Int>] {
        let batches = stride(from: 0, to: total, by: 10).map { Array($0..<min($0 + 10, total)) }
        var routed: [String: Set<Int>] = [:]
        let outage = Task {
            try await Task.sleep(for: .milliseconds(400))
            await services.setDown("slack", true)
            try await Task.sleep(for: .seconds(3))
            await services.setDown("slack", false)
        }
        for group in stride(from: 0, to: batches.count, by: 4).map({ Array(batches[$0..<min($0 + 4, batches.count)]) }) {
            let results = try await withThrowingTaskGroup(of: ([Int], [String: Int]).self) { tasks in
                for batch in group { tasks.addTask { (batch, try await self.post(batch)) } }
                var results: [([Int], [String: Int])] = []
                for try await result in tasks { results.append(result) }
                return results
            }
            for (batch, counts) in results {
                enqueued += batch.count
                for service in counts.keys { routed[service, default: []].formUnion(Self.numbers(batch, for: service)) }
            }
            if enqueued % 200 < 40 { await progress() }
            try await Task.sleep(for: .milliseconds(5))
        }
        try await outage.value
        return routed
    }

    /// Each service as `GET /_asched/v1/services` reports it: "irc: UP, 0 pending, 3 queued".
    func serviceStates() async throws -> [String] {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/_asched/v1/services")
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        let response = try await client.execute(request, timeout: .seconds(5))
        let body = try await response.body.collect(upTo: 1 << 20)
        let services = (try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any])?["services"] as? [[String: Any]] ?? []
        return services.map { service in
            "\(service["id"] as? String ?? "?"): \((service["state"] as? String ?? "?").uppercased()), "
                + "\(service["pending_txns"] as? Int ?? 0) pending, \(service["queued_events"] as? Int ?? 0) queued"
        }
    }

    /// Which of `batch` go to `service`: irc takes senders `@irc_…`, slack rooms `!slack…`.
    static func numbers(_ batch: [Int], for service: String) -> [Int] {
        batch.filter { service == "irc" ? $0 % 3 != 0 : $0 % 2 == 0 }
    }

    private func post(_ batch: [Int]) async throws -> [String: Int] {
        let events: [[String: Any]] = batch.map { number in
            ["type": "m.room.message",
             "sender": number % 3 != 0 ? "@irc_user\(number % 7):demo.example" : "@alice:demo.example",
             "room_id": number % 2 == 0 ? "!slack\(number % 5):demo.example" : "!other:demo.example",
             "content": ["msgtype": "m.text", "body": "demo message \(number)", "n": number]]
        }
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/_asched/v1/events")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: ["events": events])))
        let response = try await client.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 1 << 20)
        guard response.status == .ok,
              let routed = (try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any])?["routed"] as? [String: Int] else {
            throw ValidationError("the daemon answered \(response.status.code): \(String(buffer: body))")
        }
        return routed
    }
}
