import CChecksum
import Glibc
import SegmentLog

/// The scenarios of the SegmentLog benchmark. Each run starts from an empty directory; each
/// returns a rate (per second).
struct Benchmarks {
    let directory: String
    let scale: Int

    private func fresh(_ name: String) -> String {
        let path = directory + "/" + name
        _ = system("rm -rf '\(path)'")
        return path
    }

    private func openLog(_ name: String, policy: SyncPolicy = .always, preallocation: Preallocation = .zeroFill,
                         compression: Compression = .default, segmentSizeBytes: Int = 64 << 20) throws -> SegmentLog {
        var configuration = SegmentLog.Configuration()
        configuration.compression = compression
        configuration.syncPolicy = policy
        configuration.preallocation = preallocation
        configuration.segmentSizeBytes = segmentSizeBytes
        return try SegmentLog.open(directory: fresh(name), configuration: configuration)
    }

    /// A pause between opening and timing, kept so runs compare with earlier ones: it let the next
    /// segment's preparation, which then started at open, finish first. That preparation now
    /// starts once half a segment is written (SegmentWriter), so a bulk run of 37 MB meets it.
    private func settle() async throws {
        try await Task.sleep(for: .seconds(1))
    }

    func rawAppendSyncs() throws -> Double {
        try RawDisk.syncedWritesPerSecond(path: fresh("raw.append"), count: 400 * scale, overwrite: false)
    }

    func rawOverwriteSyncs() throws -> Double {
        try RawDisk.syncedWritesPerSecond(path: fresh("raw.overwrite"), count: 400 * scale, overwrite: true)
    }

    /// The bytes one append of `recordsPerAppend` records of `bytes` each writes uncompressed,
    /// as one `pwrite` + `fdatasync` per append (a frame is a 24-byte header and its payload,
    /// docs/FORMAT.md §3), over a zero-filled file (`overwrite`) or growing one; returns appends
    /// per second.
    func rawBulkSyncs(recordsPerAppend: Int, bytes: Int, appends: Int, overwrite: Bool) throws -> Double {
        try RawDisk.sequentialSyncedWritesPerSecond(path: fresh("raw.bulk"), bytesPerWrite: recordsPerAppend * (24 + bytes),
                                                    count: appends, overwrite: overwrite)
    }

    /// SQLite commits per second, `recordsPerCommit` rows each.
    func sqliteCommits(recordsPerCommit: Int, bytes: Int, commits: Int) throws -> Double {
        let path = fresh("sqlite")
        _ = mkdir(path, 0o755)
        let database = try SQLiteBaseline(path: path + "/bench.sqlite")
        let batches = (0..<commits).map { commit in
            (0..<recordsPerCommit).map { Workload.event(commit * recordsPerCommit + $0, bytes: bytes) }
        }
        let elapsed = try Stopwatch.measure {
            for batch in batches { try database.commit(batch) }
        }
        return Double(commits) / elapsed
    }

    /// Durable appends per second from `appenders` concurrent tasks, one record per append.
    func logAppends(appenders: Int, total: Int, preallocation: Preallocation = .zeroFill) async throws -> Double {
        let log = try openLog("log", preallocation: preallocation)
        try await settle()
        let perAppender = total / appenders
        let payloads = (0..<appenders * perAppender).map { Workload.event($0, bytes: 200) }
        let elapsed = try await Stopwatch.measure {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for appender in 0..<appenders {
                    group.addTask {
                        for index in 0..<perAppender {
                            _ = try await log.append(type: 1, payload: payloads[appender * perAppender + index])
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        try await log.close()
        return Double(appenders * perAppender) / elapsed
    }

    /// Durable appends per second of `recordsPerAppend` records each, one appender.
    func logBatchAppends(recordsPerAppend: Int, bytes: Int, appends: Int,
                         compression: Compression) async throws -> Double {
        try await timedBatchAppends(recordsPerAppend: recordsPerAppend, bytes: bytes, appends: appends,
                                    compression: compression, timingEach: false).appendsPerSecond
    }

    /// The bulk scenario's log run, also timing each append when `timingEach` (else `durations`
    /// is empty): a mean can hide one long stall, which the durations show (issue 14).
    func timedBatchAppends(recordsPerAppend: Int, bytes: Int, appends: Int, compression: Compression,
                           timingEach: Bool) async throws -> (appendsPerSecond: Double, durations: [Duration]) {
        let log = try openLog("log", compression: compression)
        try await settle()
        let batches = (0..<appends).map { append in
            (0..<recordsPerAppend).map { LogEntry(type: 1, payload: Workload.event(append * recordsPerAppend + $0, bytes: bytes)) }
        }
        var durations: [Duration] = []
        durations.reserveCapacity(timingEach ? appends : 0)
        let elapsed = try await Stopwatch.measure {
            for batch in batches {
                let started = ContinuousClock.now
                _ = try await log.append(contentsOf: batch)
                if timingEach { durations.append(ContinuousClock.now - started) }
            }
        }
        try await log.close()
        return (Double(appends) / elapsed, durations)
    }

    /// Records per append, bytes per record and appends per run of the bulk scenario: 187 MB a
    /// run, three 64 MiB segments, so every run prepares and rolls onto segments as a sustained
    /// load does (a run within one segment would time one preparation for half a segment).
    var bulkShape: (records: Int, bytes: Int, appends: Int) { (100, 600, 300 * scale) }

    /// The log's variants in the bulk scenario, the default first.
    static let bulkVariants: [(name: String, compression: Compression)] = [
        ("LZ4 while committing (default)", .default), ("LZ4 on every record", .lz4(thresholdBytes: 128)), ("compression off", .none),
    ]

    /// The bulk scenario in interleaved rounds: raw overwriting a zero-filled file (the baseline)
    /// against each of ``bulkVariants``, then raw appending to a growing file, in that contender
    /// order.
    func bulkRounds(runs: Int) async throws -> InterleavedRuns {
        let (records, bytes, appends) = bulkShape
        let variants: [() async throws -> Double] = Self.bulkVariants.map { variant in
            { try await logBatchAppends(recordsPerAppend: records, bytes: bytes, appends: appends, compression: variant.compression) }
        }
        return try await InterleavedRuns.measure("SegmentLog 100 records/append / raw write+fdatasync", rounds: runs,
                                                 baseline: { try rawBulkSyncs(recordsPerAppend: records, bytes: bytes, appends: appends,
                                                                              overwrite: true) },
                                                 contenders: variants + [{
                                                     try rawBulkSyncs(recordsPerAppend: records, bytes: bytes, appends: appends,
                                                                      overwrite: false)
                                                 }])
    }

    struct ReplayResult {
        var payloadBytesPerSecond: Double
        var recordsPerSecond: Double
        var fileBytesPerSecond: Double
        var compressionRatio: Double
        var appendGrowthBytes: Int
        var replayGrowthBytes: Int
    }

    /// Writes `megabytes` of event payloads, then times a full checked replay and a plain
    /// sequential read of the same files (both from the page cache).
    func replay(megabytes: Int) async throws -> ReplayResult {
        // Every record compressed, so the replay's figure includes decompressing them.
        let log = try openLog("replay", policy: .never, preallocation: .none, compression: .lz4(thresholdBytes: 128))
        let batch = 1000
        let recordBytes = 600
        let batches = megabytes << 20 / (batch * recordBytes)
        var residentAfterFirstBatch = 0
        for index in 0..<batches {
            let entries = (0..<batch).map { LogEntry(type: 1, payload: Workload.event(index * batch + $0, bytes: recordBytes)) }
            _ = try await log.append(contentsOf: entries)
            if index == 0 { residentAfterFirstBatch = ResidentMemory.bytes() }
        }
        let appendGrowth = ResidentMemory.bytes() - residentAfterFirstBatch
        let compressionRatio = log.statistics.compressionRatio
        try await log.close()

        let reader = try LogReader(directory: log.directory)
        let paths = reader.segmentFileNames.map { log.directory + "/" + $0 }
        let fileRate = try RawDisk.sequentialReadBytesPerSecond(paths: paths)
        var payloadBytes = 0
        var records = 0
        let residentBefore = ResidentMemory.bytes()
        var residentPeak = residentBefore
        let elapsed = try Stopwatch.measure {
            var cursor = try reader.records()
            while let record = try cursor.next() {
                payloadBytes += record.payload.count
                records += 1
                if records % 50_000 == 0 { residentPeak = max(residentPeak, ResidentMemory.bytes()) }
            }
        }
        return ReplayResult(payloadBytesPerSecond: Double(payloadBytes) / elapsed,
                            recordsPerSecond: Double(records) / elapsed, fileBytesPerSecond: fileRate,
                            compressionRatio: compressionRatio, appendGrowthBytes: appendGrowth,
                            replayGrowthBytes: residentPeak - residentBefore)
    }

    /// CRC-32C throughput in bytes per second, hardware and portable.
    func checksumRates() -> (hardware: Double, portable: Double) {
        let bytes = [UInt8](repeating: 0xA5, count: 64 << 20)
        var sink: UInt32 = 0
        let hardware = bytes.withUnsafeBytes { raw in
            Stopwatch.measure { sink ^= asched_crc32c(0, raw.baseAddress, raw.count) }
        }
        let portable = bytes.withUnsafeBytes { raw in
            Stopwatch.measure { sink ^= asched_crc32c_portable(0, raw.baseAddress, raw.count) }
        }
        precondition(sink != 1)
        return (Double(bytes.count) / hardware, Double(bytes.count) / portable)
    }
}
