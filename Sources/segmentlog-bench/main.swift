import BenchSupport
import CChecksum
import Foundation
import SegmentLog

// segmentlog-bench: SegmentLog beside raw fdatasync and SQLite (WAL, synchronous=FULL), in one
// run on one disk. Prints a Markdown table of medians and ratios.
// `--only bulk` runs the bulk scenario alone (its interleaved rounds and ratios), to iterate on it
// quickly; the shared options do not know it, so it is taken out before they are parsed.
var arguments = Array(CommandLine.arguments.dropFirst())
let onlyBulk = arguments.firstIndex(of: "--only").map { index in
    guard arguments.count > index + 1, arguments[index + 1] == "bulk" else {
        print("segmentlog-bench: --only takes one scenario: bulk")
        exit(2)
    }
    arguments.removeSubrange(index...index + 1)
    return true
} ?? false
if arguments.contains("--help") || arguments.contains("-h") {
    print("segmentlog-bench also takes:\n  --only bulk       only the 100 x 600 B bulk scenario against its raw baseline,\n"
        + "                    then one run of each log variant timed append by append\n")
}
let options = BenchOptions.parse(arguments[...], program: "segmentlog-bench", defaultRuns: 5)
let (runs, directory, scale) = (options.runs, options.directory, options.scale)

@MainActor func median(_ label: String, _ body: () async throws -> Double) async throws -> Double {
    var values: [Double] = []
    for run in 1...runs {
        values.append(try await body())
        FileHandle.standardError.write(Data("\r\(label): run \(run)/\(runs)   ".utf8))
    }
    FileHandle.standardError.write(Data("\n".utf8))
    return values.sorted()[values.count / 2]
}

/// A table row; `ratio` is given for interleaved runs (the median of per-round ratios, which need
/// not equal the ratio of the medians).
func row(_ name: String, _ value: Double, unit: String, _ baseline: Double, _ baselineName: String, ratio: Double? = nil) {
    let shown = ratio.map { String(format: "%.2fx (median of \(runs) rounds)", $0) } ?? String(format: "%.2fx", value / baseline)
    print("| \(name) | \(String(format: "%.0f", value)) \(unit) | \(baselineName): \(String(format: "%.0f", baseline)) | \(shown) |")
}

func roundRatios(_ name: String, _ ratios: [Double]) -> String {
    "\(name): " + ratios.map { String(format: "%.2f", $0) }.joined(separator: " ")
}

let bench = Benchmarks(directory: directory, scale: scale)
/// The bulk scenario's contender that is raw appending to a growing file, after the log's variants.
let bulkGrowingRaw = Benchmarks.bulkVariants.count

if onlyBulk {
    let bulk = try await bench.bulkRounds(runs: runs)
    print("| bulk, 100 x 600 B per append | records/s | ratio to raw overwrite of a zero-filled file "
        + "(\(String(format: "%.0f", bulk.baseline * 100)) records/s) | ratio to raw append to a growing file "
        + "(\(String(format: "%.0f", bulk.contenders[bulkGrowingRaw] * 100)) records/s) |")
    for (index, (name, _)) in Benchmarks.bulkVariants.enumerated() {
        print("| \(name) | \(String(format: "%.0f", bulk.contenders[index] * 100)) | "
            + String(format: "%.2fx", bulk.ratios[index]) + " (\(roundRatios("rounds", bulk.roundRatios[index]))) | "
            + String(format: "%.2fx", bulk.ratio(of: index, to: bulkGrowingRaw))
            + " (\(roundRatios("rounds", bulk.roundRatios(of: index, to: bulkGrowingRaw)))) |")
    }
    // One more run of each, timed append by append: where a stall hides in the mean.
    print("")
    let shape = bench.bulkShape
    for (name, compression) in Benchmarks.bulkVariants {
        let run = try await bench.timedBatchAppends(recordsPerAppend: shape.records, bytes: shape.bytes, appends: shape.appends,
                                                   compression: compression, timingEach: true)
        let micros = run.durations.map { Double($0.components.attoseconds) / 1e12 + Double($0.components.seconds) * 1e6 }.sorted()
        let slow = micros.filter { $0 > 400 }
        print(String(format: "%@: per append p50 %.0f µs, p99 %.0f µs, max %.0f µs; %d appends over 400 µs hold %.0f%% of the time",
                     name, micros[micros.count / 2], micros[micros.count * 99 / 100], micros.last!, slow.count,
                     100 * slow.reduce(0, +) / micros.reduce(0, +)))
    }
    exit(0)
}
let rawAppend = try await median("raw append+fdatasync") { try bench.rawAppendSyncs() }
let sqliteSingle = try await median("SQLite 1 row/commit") {
    try bench.sqliteCommits(recordsPerCommit: 1, bytes: 200, commits: 200 * scale)
}
let single = try await InterleavedRuns.measure("SegmentLog 1 appender / raw overwrite+fdatasync", rounds: runs,
                                               baseline: { try bench.rawOverwriteSyncs() },
                                               contenders: [{ try await bench.logAppends(appenders: 1, total: 300 * scale) }])
let (rawOverwrite, logSingle) = (single.baseline, single.contenders[0])
let logSingleAllocate = try await median("SegmentLog 1 appender, fallocate") {
    try await bench.logAppends(appenders: 1, total: 300 * scale, preallocation: .allocate)
}
let logSingleGrowing = try await median("SegmentLog 1 appender, no preallocation") {
    try await bench.logAppends(appenders: 1, total: 300 * scale, preallocation: .none)
}
let log8 = try await median("SegmentLog 8 appenders") { try await bench.logAppends(appenders: 8, total: 2000 * scale) }
let log64 = try await median("SegmentLog 64 appenders") { try await bench.logAppends(appenders: 64, total: 6400 * scale) }
let sqliteBatch = try await median("SQLite 100 rows/commit") {
    try bench.sqliteCommits(recordsPerCommit: 100, bytes: 600, commits: 30 * scale)
}
let bulk = try await bench.bulkRounds(runs: runs)
let (rawBulk, logBatch, rawBulkGrowing) = (bulk.baseline, bulk.contenders[0], bulk.contenders[bulkGrowingRaw])
var replays: [Benchmarks.ReplayResult] = []
_ = try await median("replay") {
    let result = try await bench.replay(megabytes: 40 * scale)
    replays.append(result)
    return result.payloadBytesPerSecond
}
let replay = replays.sorted { $0.payloadBytesPerSecond < $1.payloadBytesPerSecond }[replays.count / 2]
let checksums = bench.checksumRates()

var machine = utsname()
uname(&machine)
let kernel = withUnsafeBytes(of: machine.release) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
print("SegmentLog benchmark: \(runs) runs per scenario, medians; \(sysconf(Int32(_SC_NPROCESSORS_ONLN))) cores, Linux \(kernel), directory \(directory)")
print("")
print("| scenario | SegmentLog | baseline (same run) | ratio |")
print("|---|---|---|---|")
row("1 record per sync, 1 appender (always)", logSingle, unit: "appends/s", rawOverwrite, "raw 4 KiB overwrite+fdatasync/s",
    ratio: single.ratios[0])
row("1 record per sync, 1 appender (always)", logSingle, unit: "appends/s", sqliteSingle, "SQLite commits/s")
row("1 record per sync, 1 appender (always)", logSingle, unit: "appends/s", rawAppend, "raw 4 KiB append+fdatasync/s")
row("same, preallocation .allocate (fallocate)", logSingleAllocate, unit: "appends/s", sqliteSingle, "SQLite commits/s")
row("same, preallocation .none (file grows)", logSingleGrowing, unit: "appends/s", sqliteSingle, "SQLite commits/s")
row("raw overwrite vs append + fdatasync", rawOverwrite, unit: "syncs/s", rawAppend, "raw append+fdatasync/s")
row("8 concurrent appenders (always)", log8, unit: "appends/s", sqliteSingle, "SQLite commits/s")
row("64 concurrent appenders (always)", log64, unit: "appends/s", sqliteSingle, "SQLite commits/s")
for (index, (name, _)) in Benchmarks.bulkVariants.enumerated() {
    row("100 records x 600 B per append (always), \(name)", bulk.contenders[index] * 100, unit: "records/s", rawBulk * 100,
        "raw 62400 B overwrite of a zero-filled file+fdatasync, records/s", ratio: bulk.ratios[index])
    row("same", bulk.contenders[index] * 100, unit: "records/s", rawBulkGrowing * 100,
        "raw 62400 B append to a growing file+fdatasync, records/s", ratio: bulk.ratio(of: index, to: bulkGrowingRaw))
}
row("raw 62400 B append to a growing file+fdatasync", rawBulkGrowing * 100, unit: "records/s", rawBulk * 100,
    "raw 62400 B overwrite of a zero-filled file+fdatasync, records/s", ratio: bulk.ratios[bulkGrowingRaw])
row("100 records x 600 B per append, \(Benchmarks.bulkVariants[0].name)", logBatch * 100, unit: "records/s", sqliteBatch * 100,
    "SQLite records/s")
row("same, MB/s", logBatch * 100 * 600 / 1e6, unit: "MB/s", sqliteBatch * 100 * 600 / 1e6, "SQLite MB/s")
row("replay, logical payload (checked, decompressed)", replay.payloadBytesPerSecond / 1e6, unit: "MB/s",
    replay.fileBytesPerSecond / 1e6, "sequential read of the files MB/s")
print("| replay records | \(String(format: "%.0f", replay.recordsPerSecond)) records/s | compression \(String(format: "%.2f", replay.compressionRatio))x | |")
row("CRC-32C SSE4.2 vs portable", checksums.hardware / 1e6, unit: "MB/s", checksums.portable / 1e6, "portable MB/s")
print("")
print("Per-round ratios to the raw baseline of the same round (\(roundRatios("1 record per sync", single.roundRatios[0]))"
    + Benchmarks.bulkVariants.enumerated().map { index, variant in
        "; 100 x 600 B \(variant.name): " + roundRatios("against overwrite", bulk.roundRatios[index])
            + ", " + roundRatios("against a growing file", bulk.roundRatios(of: index, to: bulkGrowingRaw))
    }.joined() + ").")
print("Resident memory: appending \(40 * scale) MB grew RSS by \(replay.appendGrowthBytes >> 20) MiB after the first batch; "
    + "replaying it grew RSS by \(replay.replayGrowthBytes >> 20) MiB at peak.")
_ = system("rm -rf '\(directory)'/raw.* '\(directory)'/sqlite '\(directory)'/log '\(directory)'/replay")
