import Foundation

/// `asched-bench --ingest [events|relay|both] [--runs N] [--requests N] [--directory PATH]
/// [--asched PATH] [--rate N]`: runs ``IngestRun`` and prints one line per run and the medians, so two
/// builds can be run alternately (`--runs 1` each) and compared.
enum IngestReport {
    static func run(arguments: [String]) async throws {
        var modes = IngestRun.Mode.allCases
        var (runs, requests, directory) = (3, 4000, "bench-data")
        var daemonBinary: String?
        var offeredRate: Int?
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
            default:
                print("""
                    usage: asched-bench --ingest [events|relay|both] [--runs N] [--requests N] [--directory PATH] [--asched PATH] [--rate N]
                      16 connections posting batches of 10 events of ~600 B (fsync always) to /_asched/v1/events
                      (events) or relaying them as homeserver transactions (relay), until a loopback AS has
                      received them all; --requests per run (default 4000, i.e. 40000 events)
                      --asched PATH runs that asched executable (`asched serve`) as the daemon, in a process of
                      its own, so the resident memory printed is the daemon's alone; without it the daemon
                      runs in this process and the figure includes the load generator and the service
                      --rate N offers N events/s in all, each request at its planned time, instead of posting
                      as fast as the daemon answers (which can outrun delivery and build a backlog)
                    """)
                exit(argument == "--help" ? 0 : 2)
            }
        }
        guard runs > 0, requests >= IngestRun.connections, !directory.isEmpty, offeredRate.map({ $0 > 0 }) ?? true,
              daemonBinary.map({ !$0.isEmpty }) ?? true else {
            print("bad --runs/--requests/--directory/--rate/--asched (see --help)")
            exit(2)
        }
        for mode in modes {
            var results: [IngestRun.Result] = []
            for run in 1...runs {
                let result = try await IngestRun(mode: mode, directory: directory + "/ingest", requests: requests,
                                                 daemonBinary: daemonBinary, offeredRate: offeredRate).run()
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
