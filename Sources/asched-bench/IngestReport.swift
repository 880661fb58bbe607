import Foundation

/// `asched-bench --ingest [events|relay|both] [--runs N] [--requests N] [--directory PATH]
/// [--asched PATH] [--rate N] [--database ...]`: runs ``IngestRun`` and prints one line per run and
/// the medians, so two builds can be run alternately (`--runs 1` each) and compared; with
/// `--database`, ``DatabaseReport``'s scenarios.
enum IngestReport {
    static func run(arguments: [String]) async throws {
        var modes = IngestRun.Mode.allCases
        var (runs, requests, directory) = (3, 4000, "bench-data")
        var daemonBinary: String?
        var offeredRate: Int?
        var database = false, quick = false
        var (instances, failovers, tableSeconds, steadyRate, fsync) = (3, Int?.none, Int?.none, 2000, true)
        var serverScript = "tools/postgres-test-server"
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            switch argument {
            case "events", "relay": modes = [IngestRun.Mode(rawValue: argument)!]
            case "both": modes = IngestRun.Mode.allCases
            case "--runs": runs = rest.popFirst().flatMap(Int.init) ?? 0
            case "--requests": requests = rest.popFirst().flatMap(Int.init) ?? 0
            case "--directory": directory = rest.popFirst() ?? ""
            case "--asched": daemonBinary = rest.popFirst() ?? ""
            case "--rate": offeredRate = rest.popFirst().flatMap(Int.init) ?? 0
            case "--database": database = true
            case "--quick": quick = true
            case "--instances": instances = rest.popFirst().flatMap(Int.init) ?? 0
            case "--failovers": failovers = rest.popFirst().flatMap(Int.init) ?? -1
            case "--table-seconds": tableSeconds = rest.popFirst().flatMap(Int.init) ?? -1
            case "--steady-rate": steadyRate = rest.popFirst().flatMap(Int.init) ?? 0
            case "--database-fsync":
                switch rest.popFirst() {
                case "on": fsync = true
                case "off": fsync = false
                default: print("--database-fsync takes on or off"); exit(2)
                }
            case "--postgres-server": serverScript = rest.popFirst() ?? ""
            default:
                print("""
                    usage: asched-bench --ingest [events|relay|both] [--runs N] [--requests N] [--directory PATH] [--asched PATH] [--rate N]
                                                [--database [--instances N] [--failovers N] [--table-seconds S] [--steady-rate N]
                                                 [--database-fsync on|off] [--postgres-server PATH]] [--quick]
                      16 connections posting batches of 10 events of ~600 B (fsync always) to /_asched/v1/events
                      (events) or relaying them as homeserver transactions (relay), until a loopback AS has
                      received them all; --requests per run (default 4000, i.e. 40000 events)
                      --asched PATH runs that asched executable (`asched serve`) as the daemon, in a process of
                      its own, so the resident memory printed is the daemon's alone; without it the daemon
                      runs in this process and the figure includes the load generator and the service
                      --rate N offers N events/s in all, each request at its planned time, instead of posting
                      as fast as the daemon answers (which can outrun delivery and build a backlog)
                    --database (needs --asched) measures, in each run and with the same load, asched serve on the embedded
                      log, on PostgreSQL with 1 instance and with --instances N (default 3) sharing the database, the
                      clients' requests spread round-robin over them; prints events/s, p50, p99 and the ratios to the
                      embedded log (medians). Each scenario gets a fresh database on a throwaway server started with
                      --postgres-server PATH (default tools/postgres-test-server; it installs postgresql if missing).
                      A 503 (a standby that does not forward, an instance without the lease) is retried on the next
                      instance after 5 ms and counted. Then, at --steady-rate N events/s (default 2000), /events:
                      --failovers N (default 5; 0 skips): SIGKILLs the instance that delivers (the owner named by
                        GET /_asched/v1/services) N times during an --instances run, timing from the kill until a
                        request is acknowledged (200) again and until the service receives a delivery again (median,
                        max); the killed instance is restarted as a standby before the next round
                      --table-seconds S (default 150; 0 skips): samples the size of the table asched_records
                        (pg_total_relation_size) and its rows every 5 s during an S-second run (the daemon compacts
                        every 30 s): first, median, max, and the medians of each half
                      --database-fsync on|off: PostgreSQL's fsync and full_page_writes (default on, PostgreSQL's
                        default and the embedded log's fsync always; the test server runs with them off)
                    --quick: 1 run of 1600 requests; with --database 2 failovers and a 45 s table run
                    """)
                exit(argument == "--help" ? 0 : 2)
            }
        }
        if quick { (runs, requests) = (1, 1600) }
        guard runs > 0, requests >= IngestRun.connections, !directory.isEmpty, offeredRate.map({ $0 > 0 }) ?? true,
              daemonBinary.map({ !$0.isEmpty }) ?? true else {
            print("bad --runs/--requests/--directory/--rate/--asched (see --help)")
            exit(2)
        }
        if database {
            let failovers = failovers ?? (quick ? 2 : 5), tableSeconds = tableSeconds ?? (quick ? 45 : 150)
            guard let daemonBinary, instances >= 2, failovers >= 0, tableSeconds == 0 || tableSeconds >= 10, steadyRate > 0,
                  !serverScript.isEmpty else {
                print("--database needs --asched PATH, --instances of at least 2, --table-seconds 0 or at least 10, a positive --steady-rate (see --help)")
                exit(2)
            }
            try await DatabaseReport(modes: modes, runs: runs, requests: requests, directory: directory, binary: daemonBinary,
                                     offeredRate: offeredRate, instances: instances, failovers: failovers,
                                     tableSeconds: tableSeconds, steadyRate: steadyRate, fsync: fsync,
                                     serverScript: serverScript).run()
            return
        }
        for mode in modes {
            var results: [IngestRun.Result] = []
            for run in 1...runs {
                let result = try await IngestRun(mode: mode, directory: directory + "/ingest", requests: requests,
                                                 daemon: daemonBinary.map { .embedded(binary: $0) } ?? .inProcess,
                                                 offeredRate: offeredRate).run()
                results.append(result)
                print("ingest \(mode) run \(run)/\(runs): \(Int(result.eventsPerSecond)) events/s, "
                      + "p50 \(String(format: "%.2f", result.p50)) ms, p99 \(String(format: "%.2f", result.p99)) ms, "
                      + "RSS (\(daemonBinary == nil ? "whole process" : "daemon alone")) MiB at each tenth: "
                      + result.residentMiB.map(String.init).joined(separator: " "))
            }
            print("ingest \(mode) median of \(runs): \(Int(median(results.map(\.eventsPerSecond)))) events/s, "
                  + "p50 \(String(format: "%.2f", median(results.map(\.p50)))) ms, "
                  + "p99 \(String(format: "%.2f", median(results.map(\.p99)))) ms")
        }
    }
}
