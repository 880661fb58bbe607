import AppServiceHTTP
import AppServiceScheduler
import AsyncHTTPClient
import BenchSupport
import Foundation
import Hummingbird
import Logging
import NIOCore
import SegmentLog
import ServiceLifecycle

// asched-bench: the daemon end to end over HTTP, enqueue latency beside compaction, and replay
// memory. Prints medians of several runs; see README.md "Performance".
if CommandLine.arguments.count == 3 && CommandLine.arguments[1] == "--replay-probe" {
    try await ReplayMemory.probe(directory: CommandLine.arguments[2])
    exit(0)
}
let options = BenchOptions.parse(CommandLine.arguments.dropFirst(), program: "asched-bench", defaultRuns: 3)
let (runs, directory, scale) = (options.runs, options.directory, options.scale)

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

var http: [EndToEnd.Result] = []
for run in 1...runs {
    FileHandle.standardError.write(Data("end to end, run \(run)/\(runs)\n".utf8))
    http.append(try await EndToEnd(directory: directory + "/e2e", requests: 1000 * scale).run())
}
var idle: [LatencyRun.Result] = []
var compacting: [LatencyRun.Result] = []
for run in 1...runs {
    FileHandle.standardError.write(Data("enqueue latency, run \(run)/\(runs)\n".utf8))
    idle.append(try await LatencyRun(directory: directory + "/latency", enqueues: 500 * scale, compaction: false).run())
    compacting.append(try await LatencyRun(directory: directory + "/latency", enqueues: 500 * scale, compaction: true).run())
}
FileHandle.standardError.write(Data("replay memory\n".utf8))
let replay = try await ReplayMemory(directory: directory + "/replay", completedEvents: 100_000 * scale).run()

print("asched-bench: medians of \(runs) runs; \(ProcessInfo.processInfo.activeProcessorCount) cores; directory \(directory)")
print("")
print("| scenario | result |")
print("|---|---|")
print("| HTTP ingest, 16 clients x batches of 10 events, fsync always, to a loopback Swift AS | "
      + "\(Int(median(http.map(\.eventsPerSecond)))) events/s enqueued and delivered |")
print("| same, enqueue request latency | p50 \(String(format: "%.2f", median(http.map(\.p50)))) ms, "
      + "p99 \(String(format: "%.2f", median(http.map(\.p99)))) ms |")
print("| enqueue latency, idle (no compaction) | p50 \(String(format: "%.3f", median(idle.map(\.p50)))) ms, "
      + "p99 \(String(format: "%.3f", median(idle.map(\.p99)))) ms |")
print("| enqueue latency while compaction runs | p50 \(String(format: "%.3f", median(compacting.map(\.p50)))) ms, "
      + "p99 \(String(format: "%.3f", median(compacting.map(\.p99)))) ms "
      + "(p99 ratio \(String(format: "%.2f", median(compacting.map(\.p99)) / median(idle.map(\.p99))))x idle; "
      + "\(compacting.map(\.compactions).max() ?? 0) compactions) |")
print("| replay of a log with \(replay.events) completed events (a fresh process opening the scheduler) | "
      + "peak RSS \(replay.peakBytes >> 20) MiB, \(String(format: "%.2f", replay.seconds)) s |")
