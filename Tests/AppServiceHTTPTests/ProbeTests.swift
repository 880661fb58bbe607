@testable import AppServiceHTTP
import AppServiceScheduler
import AppServiceSchedulerTesting
import AsyncHTTPClient
import Foundation
import Hummingbird
import Testing

/// `/healthz` for probes (no token; why it is unhealthy) and `metrics_listen` for scrapers, over
/// real HTTP.
struct ProbeTests {
    static let token = "probe-test-ingest-token"

    /// A daemon on a scratch directory with an ingest token, adjusted by `change`.
    func withDaemon(_ change: (inout DaemonConfiguration) -> Void = { _ in },
                    _ body: (LiveDaemon, HTTPClient) async throws -> Void) async throws {
        let directory = try Fixtures.scratchDirectory(files: [:])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var configuration = DaemonConfiguration()
        configuration.dataDirectory = directory + "/data"
        configuration.listenPort = 0
        configuration.ingestToken = Self.token
        change(&configuration)
        try await LiveDaemon.run(configuration, body)
    }

    @Test func healthyAnswersOKWithoutAToken() async throws {
        try await withDaemon { daemon, client in
            let health = try await client.answer(.GET, "http://127.0.0.1:\(daemon.port)/healthz")
            #expect(health.status == 200 && health.body == #"{"status":"ok"}"#)
        }
    }

    @Test func aLogAtItsBudgetIsUnhealthyAndSaysSo() async throws {
        try await withDaemon({ $0.logBytesMax = 1 }) { daemon, client in
            let health = try await client.answer(.GET, "http://127.0.0.1:\(daemon.port)/healthz")
            #expect(health.status == 503 && health.json["status"] as? String == "unhealthy")
            let reasons = health.json["reasons"] as? [String] ?? []
            #expect(reasons.count == 1 && reasons.first?.hasPrefix("log size budget reached: ") == true, "\(reasons)")
            #expect(reasons.first?.contains("max_log_size is 1") == true)
        }
    }

    @Test func aDeviceUnderTheFreeSpaceFloorIsUnhealthyAndSaysSo() async throws {
        try await withDaemon({ $0.availableBytesMin = .max }) { daemon, client in
            let health = try await client.answer(.GET, "http://127.0.0.1:\(daemon.port)/healthz")
            #expect(health.status == 503)
            let reasons = health.json["reasons"] as? [String] ?? []
            #expect(reasons.count == 1 && reasons.first?.hasPrefix("disk nearly full: ") == true, "\(reasons)")
            #expect(reasons.first?.contains("min_free_space") == true)
        }
    }

    @Test func aFailedLogIsAReason() async throws {
        let directory = try Fixtures.scratchDirectory(files: [:])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var configuration = DaemonConfiguration()
        configuration.dataDirectory = directory + "/data"
        let scheduler = try await AppServiceScheduler.open(directory: configuration.dataDirectory, services: [],
                                                          transport: ScriptedTransport(), clock: ManualClock())
        let operations = OperationsController<BasicRequestContext>(scheduler: scheduler, metrics: SchedulerMetrics(clock: ManualClock()),
                                                                   configuration: configuration)
        #expect(await operations.unhealthyReasons().isEmpty)
        try await scheduler.close()
        let reasons = await operations.unhealthyReasons()
        let failure = try #require(await scheduler.failureDescription)
        #expect(reasons == ["log failed: \(failure)"])
    }

    @Test func metricsListenServesMetricsWithoutATokenAndNothingElse() async throws {
        try await withDaemon({ $0.metricsListen = ("127.0.0.1", 0) }) { daemon, client in
            let metricsPort = try #require(daemon.metricsPort)
            #expect(metricsPort != daemon.port)
            let open = try await client.answer(.GET, "http://127.0.0.1:\(metricsPort)/metrics")
            #expect(open.status == 200 && open.body.contains("asched_log_bytes"))
            let other = try await client.answer(.GET, "http://127.0.0.1:\(metricsPort)/healthz")
            #expect(other.status == 404 && other.json["errcode"] as? String == "M_UNRECOGNIZED")
            let enqueue = try await client.answer(.POST, "http://127.0.0.1:\(metricsPort)/_asched/v1/events", bearer: Self.token,
                                                  body: #"{"events": []}"#)
            #expect(enqueue.status == 404, "the ingest API is not on the metrics address")
            // On listen, /metrics still wants the ingest token.
            #expect(try await client.answer(.GET, "http://127.0.0.1:\(daemon.port)/metrics").status == 401)
            #expect(try await client.answer(.GET, "http://127.0.0.1:\(daemon.port)/metrics", bearer: Self.token).status == 200)
        }
    }

    @Test func withoutMetricsListenMetricsWantTheToken() async throws {
        try await withDaemon { daemon, client in
            #expect(daemon.metricsPort == nil)
            let refused = try await client.answer(.GET, "http://127.0.0.1:\(daemon.port)/metrics")
            #expect(refused.status == 401 && refused.json["errcode"] as? String == "M_MISSING_TOKEN")
        }
    }

    @Test func metricsListenIsParsedAndMustDifferFromListen() throws {
        let file = Fixtures.path("inline.yaml")
        let configuration = try DaemonConfiguration(yaml: "metrics_listen: '[::1]:9100'", file: file)
        #expect(configuration.metricsListen?.host == "::1" && configuration.metricsListen?.port == 9100)
        #expect(try DaemonConfiguration(yaml: "", file: file).metricsListen == nil)
        let same = errorText { _ = try DaemonConfiguration(yaml: "listen: 127.0.0.1:8448\nmetrics_listen: 127.0.0.1:8448", file: file) }
        #expect(same == "\(file): metrics_listen: is listen's address; give /metrics a port of its own")
        let bad = errorText { _ = try DaemonConfiguration(yaml: "metrics_listen: 9100", file: file) }
        #expect(bad?.contains("metrics_listen: \"9100\" is not host:port") == true, "\(bad ?? "")")
    }
}
