import Foundation
import Synchronization

/// `asched-bench --ingest --database`: the same HTTP load against `asched serve` on the embedded
/// log, on PostgreSQL with one instance and with several sharing the database (runs interleaved,
/// so the ratios compare runs made side by side on a noisy machine); then the failover time after
/// a SIGKILL of the instance that delivers, and the records table's size under steady load.
struct DatabaseReport {
    var modes: [IngestRun.Mode]
    var runs: Int
    var requests: Int
    var directory: String
    var binary: String
    var offeredRate: Int?
    var instances: Int
    var failovers: Int
    var tableSeconds: Int
    var steadyRate: Int
    var fsync: Bool
    var serverScript: String

    func run() async throws {
        FileHandle.standardError.write(Data("starting PostgreSQL (\(serverScript))\n".utf8))
        let server = try PostgresServer.start(script: serverScript, fsync: fsync)
        defer { try? server.stop() }
        let settings = try server.query("SELECT current_setting('server_version') || ', fsync ' || current_setting('fsync') "
                                        + "|| ', synchronous_commit ' || current_setting('synchronous_commit')", database: "postgres")
        print("asched-bench --ingest --database: \(ProcessInfo.processInfo.activeProcessorCount) cores; asched \(binary); "
              + "PostgreSQL \(settings) (\(server.directory)); \(IngestRun.connections) connections x \(IngestRun.eventsPerRequest) events of ~600 B, "
              + (offeredRate.map { "offered at \($0) events/s" } ?? "each posted once the last is answered")
              + "; a 503 is retried on the next instance after \(IngestRun.retryDelay.components.attoseconds / 1_000_000_000_000_000) ms")
        let scenarios: [(label: String, instances: Int?)] = [("embedded log", nil), ("PostgreSQL, 1 instance", 1),
                                                             ("PostgreSQL, \(instances) instances", instances)]
        for mode in modes {
            var results = Array(repeating: [IngestRun.Result](), count: scenarios.count)
            for run in 1...runs {
                for (index, scenario) in scenarios.enumerated() {
                    let database = "bench_\(mode)_\(index)_\(run)"
                    let daemon: IngestRun.Daemon = try scenario.instances.map {
                        .postgres(binary: binary, url: try server.createDatabase(database), instances: $0)
                    } ?? .embedded(binary: binary)
                    let result = try await IngestRun(mode: mode, directory: directory + "/ingest", requests: requests,
                                                     daemon: daemon, offeredRate: offeredRate).run()
                    if scenario.instances != nil { try server.dropDatabase(database) }
                    results[index].append(result)
                    print("ingest \(mode) run \(run)/\(runs), \(scenario.label): \(Int(result.eventsPerSecond)) events/s, "
                          + "p50 \(String(format: "%.2f", result.p50)) ms, p99 \(String(format: "%.2f", result.p99)) ms, "
                          + "\(result.unavailable) answers 503, RSS (first instance) MiB at each tenth: "
                          + result.residentMiB.map(String.init).joined(separator: " "))
                }
                let rates = results.map { $0[run - 1].eventsPerSecond }
                print("ingest \(mode) run \(run)/\(runs), ratios to the embedded log: "
                      + (1..<scenarios.count).map { "\(scenarios[$0].label) \(String(format: "%.2f", rates[$0] / rates[0]))x" }
                          .joined(separator: ", "))
            }
            print("")
            print("| \(mode), median of \(runs) | events/s enqueued and delivered | ratio to the embedded log | p50 | p99 | 503 answers retried (median) |")
            print("|---|---|---|---|---|---|")
            let embedded = median(results[0].map(\.eventsPerSecond))
            for (index, scenario) in scenarios.enumerated() {
                let rate = median(results[index].map(\.eventsPerSecond))
                print("| \(scenario.label) | \(Int(rate)) (\(results[index].map { String(Int($0.eventsPerSecond)) }.joined(separator: ", "))) | "
                      + "\(String(format: "%.2f", rate / embedded))x | \(String(format: "%.2f", median(results[index].map(\.p50)))) ms | "
                      + "\(String(format: "%.2f", median(results[index].map(\.p99)))) ms | "
                      + "\(Int(median(results[index].map { Double($0.unavailable) }))) |")
            }
            print("")
        }
        if failovers > 0 { try await failover(server: server) }
        if tableSeconds > 0 { try await table(server: server) }
    }

    /// Kills the instance that delivers, `failovers` times, while the clients post at the steady
    /// rate, and times each takeover from the SIGKILL: until a request sent after it is
    /// acknowledged (200), and until the service begins to receive a delivery again. The killed
    /// instance is started again (it comes back as a standby) before the next round.
    private func failover(server: PostgresServer) async throws {
        let database = "bench_failover"
        let url = try server.createDatabase(database)
        let times = Mutex<[(owner: String, acknowledged: Double, delivered: Double)]>([])
        let (failovers, instances) = (failovers, instances)
        var run = IngestRun(mode: .events, directory: directory + "/failover", requests: 100_000_000,
                            daemon: .postgres(binary: binary, url: url, instances: instances), offeredRate: steadyRate)
        run.retryUnanswered = true
        run.beside = { processes, counter in
            for round in 1...failovers {
                // Steady state first: every instance up, the new owner caught up.
                try await Task.sleep(for: .seconds(5))
                let owner = try await processes.owner()
                let killed = ContinuousClock.now
                await processes.kill(owner)
                counter.failover.withLock { $0 = (ContinuousClock.now, nil, nil) }
                let deadline = ContinuousClock.now + .seconds(60)
                var marks: (acknowledged: ContinuousClock.Instant?, delivered: ContinuousClock.Instant?) = (nil, nil)
                while marks.acknowledged == nil || marks.delivered == nil {
                    guard ContinuousClock.now < deadline else {
                        throw AschedProcess.Failure(description: "failover \(round): no acknowledgement or delivery 60 s after killing \(processes[owner].name)")
                    }
                    try await Task.sleep(for: .milliseconds(5))
                    marks = counter.failover.withLock { ($0?.acknowledged, $0?.delivered) }
                }
                counter.failover.withLock { $0 = nil }
                let time = (processes[owner].name, EndToEnd.seconds(marks.acknowledged! - killed), EndToEnd.seconds(marks.delivered! - killed))
                times.withLock { $0.append(time) }
                FileHandle.standardError.write(Data("failover \(round)/\(failovers): \(time)\n".utf8))
                try await processes.restart(owner)
            }
        }
        let result = try await run.run()
        try server.dropDatabase(database)
        let measured = times.withLock { $0 }
        print("failover after SIGKILL of the delivering instance, \(instances) instances, /events offered at \(steadyRate) events/s:")
        for (round, time) in measured.enumerated() {
            print("  round \(round + 1): killed \(time.owner); acknowledged again after \(String(format: "%.2f", time.acknowledged)) s, "
                  + "delivery resumed after \(String(format: "%.2f", time.delivered)) s")
        }
        print("| failover (\(measured.count) SIGKILLs) | median | max |")
        print("|---|---|---|")
        print("| kill to the first 200 | \(String(format: "%.2f", median(measured.map(\.acknowledged)))) s | \(String(format: "%.2f", measured.map(\.acknowledged).max()!)) s |")
        print("| kill to the first delivery | \(String(format: "%.2f", median(measured.map(\.delivered)))) s | \(String(format: "%.2f", measured.map(\.delivered).max()!)) s |")
        print("whole run, failovers included: \(Int(result.eventsPerSecond)) events/s delivered, p99 \(String(format: "%.2f", result.p99)) ms, "
              + "\(result.unavailable) answers 503 and \(result.unanswered) unanswered requests, each retried on the next instance")
        print("")
    }

    /// The records table (`pg_total_relation_size('asched_records')`, its rows) every 5 s while
    /// the clients post at the steady rate for `tableSeconds`: the daemon deletes completed
    /// transactions' records every 30 s, so it should stay bounded, not grow with the run.
    private func table(server: PostgresServer) async throws {
        let database = "bench_table"
        let url = try server.createDatabase(database)
        let samples = Mutex<[(seconds: Double, bytes: Int, rows: Int, dead: Int, vacuums: Int)]>([])
        let seconds = tableSeconds
        var run = IngestRun(mode: .events, directory: directory + "/table", requests: 100_000_000,
                            daemon: .postgres(binary: binary, url: url, instances: instances), offeredRate: steadyRate)
        run.beside = { _, _ in
            let started = ContinuousClock.now
            while ContinuousClock.now < started + .seconds(seconds) {
                try await Task.sleep(for: .seconds(5))
                // The dead rows and autovacuum's passes (statistics, a little behind) tell the space
                // a DELETE left for reuse from growth.
                let fields = try server.query("""
                    SELECT pg_total_relation_size('asched_records'), (SELECT count(*) FROM asched_records), n_dead_tup, autovacuum_count
                    FROM pg_stat_user_tables WHERE relname = 'asched_records'
                    """, database: database).split(separator: "|").compactMap { Int($0) }
                guard fields.count == 4 else { throw AschedProcess.Failure(description: "psql printed \(fields)") }
                samples.withLock { $0.append((EndToEnd.seconds(ContinuousClock.now - started), fields[0], fields[1], fields[2], fields[3])) }
            }
        }
        let result = try await run.run()
        // Which records the last compaction kept, and how old the oldest are: what a growing
        // remainder is made of.
        let kept = try server.query("""
            SELECT type, count(*), min(position), max(position) FROM asched_records GROUP BY type ORDER BY type
            """, database: database).split(separator: "\n").joined(separator: "; ")
        try server.dropDatabase(database)
        let taken = samples.withLock { $0 }
        let half = taken.count / 2
        func mebibytes(_ bytes: Int) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }
        print("records table under steady load: \(instances) instances, /events offered at \(steadyRate) events/s for \(seconds) s "
              + "(\(Int(result.eventsPerSecond)) events/s delivered); every 5 s, seconds: size, rows, dead rows, autovacuum passes")
        print("  " + taken.map { "\(Int($0.seconds)): \(mebibytes($0.bytes)), \($0.rows), \($0.dead), \($0.vacuums)" }.joined(separator: "; "))
        print("  rows at the end (the daemon stopped), by record type: type|rows|oldest position|newest position: \(kept)")
        print("| records table | first | median | max | median, first half | median, second half |")
        print("|---|---|---|---|---|---|")
        for (label, values) in [("size", taken.map(\.bytes)), ("rows", taken.map(\.rows))] {
            let format = { (value: Double) in label == "size" ? mebibytes(Int(value)) : String(Int(value)) }
            print("| \(label) | \(format(Double(values[0]))) | \(format(median(values.map(Double.init)))) | "
                  + "\(format(Double(values.max()!))) | \(format(median(values.prefix(half).map(Double.init)))) | "
                  + "\(format(median(values.dropFirst(half).map(Double.init)))) |")
        }
        print("")
    }
}
