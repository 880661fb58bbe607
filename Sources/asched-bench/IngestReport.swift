import Foundation

/// `asched-bench --ingest [events|relay|both] [--runs N] [--requests N] [--directory PATH]`:
/// runs ``IngestRun`` and prints one line per run and the medians, so two builds can be run
/// alternately (`--runs 1` each) and compared.
enum IngestReport {
    static func run(arguments: [String]) async throws {
        var modes = IngestRun.Mode.allCases
        var (runs, requests, directory) = (3, 4000, "bench-data")
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            switch argument {
            case "events", "relay": modes = [IngestRun.Mode(rawValue: argument)!]
            case "both": modes = IngestRun.Mode.allCases
            case "--runs": runs = rest.popFirst().flatMap(Int.init) ?? 0
            case "--requests": requests = rest.popFirst().flatMap(Int.init) ?? 0
            case "--directory": directory = rest.popFirst() ?? ""
            default:
                print("""
                    usage: asched-bench --ingest [events|relay|both] [--runs N] [--requests N] [--directory PATH]
                      16 connections posting batches of 10 events of ~600 B (fsync always) to /_asched/v1/events
                      (events) or relaying them as homeserver transactions (relay), until a loopback AS has
                      received them all; --requests per run (default 4000, i.e. 40000 events)
                    """)
                exit(argument == "--help" ? 0 : 2)
            }
        }
        guard runs > 0, requests >= IngestRun.connections, !directory.isEmpty else { print("bad --runs/--requests/--directory"); exit(2) }
        for mode in modes {
            var results: [IngestRun.Result] = []
            for run in 1...runs {
                let result = try await IngestRun(mode: mode, directory: directory + "/ingest", requests: requests).run()
                results.append(result)
                print("ingest \(mode) run \(run)/\(runs): \(Int(result.eventsPerSecond)) events/s, "
                      + "p50 \(String(format: "%.2f", result.p50)) ms, p99 \(String(format: "%.2f", result.p99)) ms, "
                      + "RSS \(result.residentMiBAtFirstTenth) MiB at a tenth, \(result.residentMiBAtEnd) MiB at the end")
            }
            print("ingest \(mode) median of \(runs): \(Int(median(results.map(\.eventsPerSecond)))) events/s, "
                  + "p50 \(String(format: "%.2f", median(results.map(\.p50)))) ms, "
                  + "p99 \(String(format: "%.2f", median(results.map(\.p99)))) ms")
        }
    }
}
