import AppServiceHTTP
import AppServiceScheduler
import Foundation
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing

/// What an operator sees of a bridge's backlog and the relay: the status fields, the metrics,
/// and the Grafana dashboard over them.
@Suite struct RelayVisibilityTests {
    typealias Harness = RelayHarness

    /// While a service is DOWN, its status and `/metrics` say how long its oldest item has waited;
    /// once it has caught up, the age is 0.
    @Test func theBacklogsAgeIsReported() async throws {
        let harness = try await Harness.make()
        harness.service.fail(next: .max)
        try await harness.run { client in
            #expect(try await Harness.relay(client, txnID: "1", body: Harness.transaction([Harness.event("$a")])).status == .ok)
            // The backlog ages at least 300 ms; the service is DOWN once its first attempt has failed.
            try await Task.sleep(for: .milliseconds(300))
            var down: [String: Any] = [:]
            try await waitUntil("the service is DOWN") {
                down = try await Harness.services(client)["bridge"] ?? [:]
                return down["state"] as? String == "down"
            }
            let ageMs = try #require(down["oldest_queued_age_ms"] as? Int)
            #expect(ageMs >= 300 && ageMs < 60_000)
            let gauge = try #require(Self.sample("asched_backlog_age_seconds{service=\"bridge\"}", in: try await Harness.metrics(client)))
            #expect(gauge >= 0.3 && gauge < 60)

            harness.service.fail(next: 0)
            try await Harness.waitUntilSettled(client, completed: 1)
            #expect((try await Harness.services(client)["bridge"] ?? [:])["oldest_queued_age_ms"] as? Int == 0)
            #expect(Self.sample("asched_backlog_age_seconds{service=\"bridge\"}", in: try await Harness.metrics(client)) == 0)
        }
        try await harness.tearDown()
    }

    /// The metric names in the dashboard's queries, each one `/metrics` exports once a daemon has
    /// relayed, deduplicated, enqueued, failed a send and recovered; histograms are queried by
    /// their `_bucket`, `_sum` and `_count` series, never by the family name.
    @Test func everyMetricTheDashboardQueriesIsExported() async throws {
        let dashboard = try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: Fixtures.repository + "/docs/grafana/asched.json")))
        let queried = Self.metricNames(inQueriesOf: dashboard)
        #expect(queried.isSuperset(of: [
            "asched_queued_events", "asched_pending_transactions", "asched_backlog_age_seconds",
            "asched_transactions_sent_total", "asched_transactions_failed_total", "asched_service_up",
            "asched_fsync_seconds_bucket", "asched_compactions_total", "asched_relay_duplicates_total",
        ]), "the dashboard shows backlog and age, sends and failures, DOWN periods, fsync latency, compactions and dedupes")

        let harness = try await Harness.make()
        harness.service.fail(next: 1)
        let exposition = Mutex("")
        try await harness.run { client in
            let body = Harness.transaction([Harness.event("$a")])
            #expect(try await Harness.relay(client, txnID: "1", body: body).status == .ok)
            #expect(try await Harness.relay(client, txnID: "1", body: body).status == .ok)
            let enqueue = try await client.executeRequest(
                uri: "/_asched/v1/services/bridge/enqueue", method: .post,
                headers: [.authorization: "Bearer \(Harness.ingestToken)"], body: ByteBuffer(string: #"{"events": [{"type": "m.x"}]}"#))
            #expect(enqueue.status == .ok)
            try await waitUntil("the failed send is retried and everything delivered") {
                let status = try await Harness.services(client)["bridge"] ?? [:]
                return status["state"] as? String == "up" && status["pending_txns"] as? Int == 0 && status["queued_events"] as? Int == 0
                    && harness.service.received.count >= 2
            }
            let text = try await Harness.metrics(client)
            exposition.withLock { $0 = text }
        }
        let text = exposition.withLock { $0 }
        let exported = Self.sampleNames(in: text)
        #expect(queried.subtracting(exported).isEmpty, "queried but not exported: \(queried.subtracting(exported).sorted())")
        let histograms = Set(text.split(separator: "\n").compactMap { line -> String? in
            let words = line.split(separator: " ")
            return words.count == 4 && words[1] == "TYPE" && words[3] == "histogram" ? String(words[2]) : nil
        })
        #expect(histograms.contains("asched_fsync_seconds"))
        #expect(queried.isDisjoint(with: histograms), "a histogram is queried by its family name, which has no series")
        try await harness.tearDown()
    }

    /// Every `asched_…` name in the dashboard's PromQL (`expr`) and variable queries.
    static func metricNames(inQueriesOf node: Any) -> Set<String> {
        switch node {
        case let object as [String: Any]:
            var names: Set<String> = []
            for (key, value) in object {
                if ["expr", "query", "definition"].contains(key), let text = value as? String {
                    names.formUnion(text.matches(of: /asched_[a-zA-Z0-9_:]+/).map { String($0.output) })
                } else {
                    names.formUnion(metricNames(inQueriesOf: value))
                }
            }
            return names
        case let list as [Any]:
            return list.reduce(into: []) { $0.formUnion(metricNames(inQueriesOf: $1)) }
        default:
            return []
        }
    }

    /// The names of the samples in a Prometheus text exposition (histograms' `_bucket`, `_sum` and
    /// `_count` series each by their own name).
    static func sampleNames(in exposition: String) -> Set<String> {
        Set(exposition.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { line in
            line.split(whereSeparator: { $0 == "{" || $0 == " " }).first.map(String.init)
        })
    }

    /// The value of the sample `series` (name and labels, as exported).
    static func sample(_ series: String, in exposition: String) -> Double? {
        exposition.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.dropFirst(series.count + 1)) }
    }
}
