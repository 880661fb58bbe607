import SegmentLog
import SegmentLogTesting
import Synchronization
import Testing

/// Crashes on the simulated disk, from many seeds: acknowledged records survive per the sync
/// policy, and nothing that was never appended appears. A failing seed is named in the test's argument and its messages.
@Suite struct CrashSimulationTests {
    /// One seeded run: rounds of appends, each ended by a crash, then a reopen that is checked.
    static func run(seed: UInt64) async throws {
        var random = SeededRandom(seed: seed)
        let disk = SimulatedFileSystem()
        var configuration = SegmentLog.Configuration()
        configuration.fileSystem = disk
        configuration.segmentSizeBytes = [300, 1024, 4096][Int(seed % 3)]
        // The simulated executor runs background preparation (`zeroFill`) in a seeded order too.
        configuration.executor = SimulatedLogExecutor()
        configuration.preallocation = [Preallocation.allocate, .none, .zeroFill][Int(seed / 2 % 3)]
        configuration.syncPolicy = seed % 2 == 0 ? .always : .never
        var appended: [LogPosition: [UInt8]] = [:]
        for round in 0..<4 {
            let log = try SegmentLog.open(directory: "/data/log", configuration: configuration)
            let records = try readAll(disk)
            let context = "seed \(seed), round \(round)"
            for record in records {
                #expect(appended[record.position] == record.payload, "\(context): record \(record.position) was never appended")
            }
            let surviving = Set(records.map(\.position))
            let lost = appended.keys.filter { !surviving.contains($0) }
            #expect(lost.allSatisfy { $0 > (records.last?.position ?? .start) }, "\(context): a hole before the last record")
            for position in lost { appended[position] = nil }
            #expect(log.lastPosition == records.last?.position ?? .start, "\(context)")

            var durable = log.lastPosition
            for _ in 0..<Int.random(in: 0...40, using: &random) {
                let payload = makePayload(size: Int.random(in: 0...400, using: &random),
                                          compressible: Bool.random(using: &random), using: &random)
                let position = try await log.append(type: 1, payload: payload)
                appended[position] = payload
                if configuration.syncPolicy == .always { durable = position }
            }
            if Bool.random(using: &random) {
                try await log.close()
                durable = log.lastPosition
            }
            disk.crash(using: &random)
            let afterCrash = try await readAllAfterReopen(disk, configuration)
            #expect((afterCrash.last?.position ?? .start) >= durable, "\(context): acknowledged durable records lost")
        }
    }

    static func readAll(_ disk: SimulatedFileSystem) throws -> [LogRecord] {
        var cursor = try LogReader(directory: "/data/log", fileSystem: disk).records()
        var records: [LogRecord] = []
        while let record = try cursor.next() { records.append(record) }
        return records
    }

    /// Opens (which cuts a torn tail), closes, and reads what survived.
    static func readAllAfterReopen(_ disk: SimulatedFileSystem, _ configuration: SegmentLog.Configuration) async throws -> [LogRecord] {
        let log = try SegmentLog.open(directory: "/data/log", configuration: configuration)
        let records = try readAll(disk)
        #expect(log.lastPosition == records.last?.position ?? .start)
        try await log.close()
        return records
    }

    @Test(arguments: 0..<200)
    func sequentialAppendsSurviveCrashes(seed: UInt64) async throws {
        try await Self.run(seed: seed)
    }

    /// Many appenders under `always`; the disk crashes after a seeded number of acknowledgements,
    /// mid-write or mid-sync. Every acknowledged record must survive.
    @Test(arguments: 0..<50)
    func concurrentAppendsSurviveACrashAtAnyMoment(seed: UInt64) async throws {
        var random = SeededRandom(seed: seed)
        let disk = SimulatedFileSystem()
        var configuration = SegmentLog.Configuration()
        configuration.fileSystem = disk
        configuration.segmentSizeBytes = 2048
        configuration.preallocation = .zeroFill
        let log = try SegmentLog.open(directory: "/data/log", configuration: configuration)
        let crashAfter = Int.random(in: 1...150, using: &random)
        let recorder = AcknowledgementRecorder(disk: disk, crashAfter: crashAfter, random: random)
        await withTaskGroup(of: Void.self) { group in
            for appender in 0..<8 {
                group.addTask {
                    for index in 0..<25 {
                        let payload = Array("appender \(appender) record \(index)".utf8)
                        guard let position = try? await log.append(type: UInt8(appender), payload: payload) else { return }
                        recorder.acknowledge(position, payload)
                    }
                }
            }
        }
        let survivors = try await Self.readAllAfterReopen(disk, configuration)
        let byPosition = Dictionary(uniqueKeysWithValues: survivors.map { ($0.position, $0.payload) })
        for (position, payload) in recorder.acknowledged {
            #expect(byPosition[position] == payload, "seed \(seed): acknowledged record \(position) lost")
        }
        let positions = survivors.map(\.position.rawValue)
        #expect(positions == Array(1...UInt64(max(1, positions.count))).prefix(positions.count).map { $0 },
                "seed \(seed): positions are not 1...n")
    }
}

/// Records acknowledged appends and crashes the disk at the chosen count.
final class AcknowledgementRecorder: Sendable {
    private struct State {
        var acknowledged: [LogPosition: [UInt8]] = [:]
        var random: SeededRandom
    }

    private let disk: SimulatedFileSystem
    private let crashAfter: Int
    private let state: Mutex<State>

    init(disk: SimulatedFileSystem, crashAfter: Int, random: SeededRandom) {
        self.disk = disk
        self.crashAfter = crashAfter
        self.state = Mutex(State(random: random))
    }

    var acknowledged: [LogPosition: [UInt8]] { state.withLock { $0.acknowledged } }

    func acknowledge(_ position: LogPosition, _ payload: [UInt8]) {
        state.withLock { state in
            state.acknowledged[position] = payload
            if state.acknowledged.count == crashAfter { disk.crash(using: &state.random) }
        }
    }
}
