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
if CommandLine.arguments.dropFirst().first == "--ingest" { try await IngestReport.run(arguments: Array(CommandLine.arguments.dropFirst(2))); exit(0) }
if CommandLine.arguments.count == 3 && CommandLine.arguments[1] == "--replay-probe" {
    try await ReplayMemory.probe(directory: CommandLine.arguments[2])
    exit(0)
}
if CommandLine.arguments.count == 3 && CommandLine.arguments[1] == "--outage-probe" {
    try await OutageRun.probe(directory: CommandLine.arguments[2])
    exit(0)
}
if CommandLine.arguments.count == 3 && CommandLine.arguments[1] == "--compaction-probe" {
    try await CompactionProbe.probe(directory: CommandLine.arguments[2])
    exit(0)
}
if CommandLine.arguments.count == 3 && CommandLine.arguments[1] == "--catch-up-probe" {
    try await CatchUpRun.probe(directory: CommandLine.arguments[2])
    exit(0)
}
if CommandLine.arguments.count == 4 && CommandLine.arguments[1] == "--outage-daemon", let port = Int(CommandLine.arguments[3]) {
    try await OutageDaemon.run(directory: CommandLine.arguments[2], servicePort: port)
    exit(0)
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

// `--outage` and its options are taken out first; the rest are the common options.
var outage: (backlog: Int, upPerRequest: Int)?
var catchUp = false
var common: [String] = []
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--outage": outage = outage ?? (1_000_000, 5)
    case "--catch-up": catchUp = true
    case "--events":
        guard let count = arguments.popFirst().flatMap(Int.init), count >= 10_000 else { print("--events takes a count of at least 10000"); exit(2) }
        outage = (count, outage?.upPerRequest ?? 5)
    case "--up-events":
        guard let count = arguments.popFirst().flatMap(Int.init), (0...9).contains(count) else { print("--up-events takes 0 to 9"); exit(2) }
        outage = (outage?.backlog ?? 1_000_000, count)
    case "--help", "-h":
        print("""
            asched-bench --outage [--events N] [--up-events K] [--runs N] [--directory PATH]
              an outage and its catch-up, through the daemon in a child process: service "down"
              answers 500 while 16 clients post batches of 10 events (~600 B) until N events are
              queued for it (default 1000000; 3600000 is an hour at 1000 events/s), K of each
              batch's 10 events going to service "up", which stays up (default 5); then a restart
              (a fresh process opens the backlog) and the drain. Also drains a 10,000-event backlog,
              for the linear catch-up ratio. Needs about 1.3 KB of disk per event of N.
            asched-bench --catch-up [--events N] [--runs N] [--directory PATH]
              linear catch-up: a fresh process opens the scheduler on a backlog of N events
              (default 1000000) written straight to the log, and on one of 10000, and sends each
              to a transport that accepts at once; prints the rates over the first 10000 events
              (medians) and their ratio, which must stay within 2x.

            """)
        common.append(argument)
    default: common.append(argument)
    }
}
let options = BenchOptions.parse(common[...], program: "asched-bench", defaultRuns: 3)
let (runs, directory, scale) = (options.runs, options.directory, options.scale)

if catchUp {
    try await CatchUpReport.run(directory: directory + "/catch-up", backlog: outage?.backlog ?? 1_000_000, runs: runs)
    exit(0)
}
if let (backlog, upPerRequest) = outage {
    try await OutageReport.run(directory: directory + "/outage", backlog: backlog, upPerRequest: upPerRequest, runs: runs)
    exit(0)
}

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
