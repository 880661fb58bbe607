import SegmentLog
import SegmentLogTesting
import Testing

/// With the simulated disk and the simulated executor, a seed replays a run bit for bit: group
/// commit, the next segment's background preparation (`zeroFill`), compaction and its pacing
/// all run in one deterministic order, so two runs of one seed leave the same trace.
@Suite struct DeterministicReplayTests {
    @Test(arguments: 0..<24)
    func aSeedReplaysTheSameTrace(seed: UInt64) async throws {
        let first = try await Self.trace(seed: seed)
        let second = try await Self.trace(seed: seed)
        #expect(first.count > 4, "seed \(seed)")
        #expect(first == second, "seed \(seed): \(zip(first, second).first { $0 != $1 }.map { "\($0) != \($1)" } ?? "lengths differ")")
    }

    /// Rounds of appends, sometimes a seal and a compaction, sometimes a close, each ended by a
    /// crash; every observable outcome, and the disk after each crash, goes into the trace.
    static func trace(seed: UInt64) async throws -> [String] {
        var random = SeededRandom(seed: seed)
        let disk = SimulatedFileSystem()
        let executor = SimulatedLogExecutor()
        var configuration = SegmentLog.Configuration()
        configuration.fileSystem = disk
        configuration.executor = executor
        configuration.segmentSizeBytes = [512, 1024, 4096][Int(seed % 3)]
        configuration.preallocation = .zeroFill
        configuration.syncPolicy = [.always, .interval(.milliseconds(5)), .never][Int(seed / 3 % 3)]
        var trace: [String] = []
        for round in 0..<4 {
            let log = try SegmentLog.open(directory: "/data/log", configuration: configuration)
            trace.append("round \(round): last \(log.lastPosition), floor \(log.replayFloor), \(log.tornTail.map(\.description) ?? "no torn tail"), "
                         + "\(log.statistics.logBytes) bytes")
            for _ in 0..<Int.random(in: 0...40, using: &random) {
                let payload = makePayload(size: Int.random(in: 0...300, using: &random), compressible: Bool.random(using: &random),
                                          using: &random)
                trace.append("append \(try await log.append(type: 1, payload: payload)) of \(payload.count) bytes")
                executor.advance(by: .milliseconds(Int.random(in: 0...3, using: &random)))
            }
            if Bool.random(using: &random), log.lastPosition > log.replayFloor {
                try await log.sealActiveSegment()
                trace.append(try await compact(log, using: &random))
            }
            if Bool.random(using: &random) {
                try await log.close()
                trace.append("closed")
            }
            disk.crash(using: &random)
            trace.append(contentsOf: try snapshot(disk))
        }
        trace.append("\(executor.jobsRun) jobs")
        return trace
    }

    /// Compacts below the last position, keeping a random few of the records below it.
    static func compact(_ log: SegmentLog, using random: inout SeededRandom) async throws -> String {
        let floor = log.lastPosition
        let candidates = (log.replayFloor.rawValue..<floor.rawValue).filter { $0 > 0 }
        let live = candidates.filter { _ in Int.random(in: 0..<4, using: &random) == 0 }.map(LogPosition.init(rawValue:))
        guard let report = try await log.compact(before: floor, keeping: live) else { return "compaction: nothing" }
        return "compaction below \(report.floor): \(report.segmentsReplaced) -> \(report.segmentsWritten), \(report.segmentsKept) kept; "
            + "\(report.recordsBefore) -> \(report.recordsAfter) records, \(report.bytesBefore) -> \(report.bytesAfter) bytes"
    }

    /// Every file of the log directory with its size and an FNV-1a digest of its bytes.
    static func snapshot(_ disk: SimulatedFileSystem) throws -> [String] {
        try disk.contentsOfDirectory(at: "/data/log").sorted().map { name in
            let bytes = disk.contents(of: "/data/log/" + name) ?? []
            let digest = bytes.reduce(UInt64(0xcbf2_9ce4_8422_2325)) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
            return "\(name): \(bytes.count) bytes, digest \(String(digest, radix: 16))"
        }
    }
}
