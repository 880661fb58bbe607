import SegmentLog
import SegmentLogTesting
import Synchronization
import Testing

/// A segment compaction kept is not read again by the next compaction of the same log (its
/// sizes, chain and live frames are remembered), yet the next compaction decides and reports
/// exactly what one that scans everything (after a reopen) does; a segment it now rewrites is
/// scanned again.
@Suite struct CompactionMemoTests {
    /// Counts the bytes read from each file, passing everything else through.
    final class CountingFileSystem: FileSystem {
        let base: any FileSystem
        let bytesRead = Mutex<[String: Int]>([:])

        init(_ base: any FileSystem) { self.base = base }

        func contentsOfDirectory(at path: String) throws -> [String] { try base.contentsOfDirectory(at: path) }
        func directoryExists(at path: String) -> Bool { base.directoryExists(at: path) }
        func fileExists(at path: String) -> Bool { base.fileExists(at: path) }
        func createDirectory(at path: String) throws { try base.createDirectory(at: path) }
        func openFile(at path: String, mode: FileOpenMode) throws -> any OpenFile {
            CountingFile(try base.openFile(at: path, mode: mode), counts: self)
        }
        func rename(from source: String, to destination: String) throws { try base.rename(from: source, to: destination) }
        func removeFile(at path: String) throws { try base.removeFile(at: path) }
        func synchronizeDirectory(at path: String) throws { try base.synchronizeDirectory(at: path) }
        func lockFile(at path: String) throws -> (any OpenFile)? { try base.lockFile(at: path) }

        /// Bytes read beyond the segment headers, per file name, since the last call.
        func takeFrameBytesRead() -> [String: Int] {
            bytesRead.withLock { counts in
                defer { counts = [:] }
                return counts
            }
        }
    }

    final class CountingFile: OpenFile {
        let base: any OpenFile
        let counts: CountingFileSystem

        init(_ base: any OpenFile, counts: CountingFileSystem) {
            self.base = base
            self.counts = counts
        }

        var path: String { base.path }
        func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws -> Int {
            let count = try base.read(into: buffer, at: offset)
            // A header read (listing, candidates) is not a scan.
            if count > 64 { counts.bytesRead.withLock { $0[String(path.split(separator: "/").last!), default: 0] += count } }
            return count
        }
        func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws { try base.write(bytes, at: offset) }
        func size() throws -> Int { try base.size() }
        func truncate(to length: Int) throws { try base.truncate(to: length) }
        func preallocate(upTo length: Int) throws { try base.preallocate(upTo: length) }
        func synchronizeData() throws { try base.synchronizeData() }
        func close() throws { try base.close() }
    }

    @Test(arguments: TestDisk.allCases)
    func aKeptSegmentIsNotReadAgainAndTheDecisionIsTheSame(disk: TestDisk) async throws {
        let directory = TestDirectory(disk)
        let counting = CountingFileSystem(directory.fileSystem)
        var configuration = directory.configuration(segmentSizeBytes: SelectiveCompactionTests.segmentSizeBytes)
        configuration.fileSystem = counting
        var log = try SegmentLog.open(directory: directory.path, configuration: configuration)
        var random = SeededRandom(seed: 11)
        var payloads: [LogPosition: [UInt8]] = [:]
        for _ in 0..<120 {
            let payload = makePayload(size: 100, compressible: false, using: &random)
            payloads[try await log.append(type: 2, payload: payload)] = payload
        }
        // Six of every seven records live, then five: every candidate stays over a third live, so kept.
        let all = (1..<100).map { LogPosition(rawValue: UInt64($0)) }
        let floor = LogPosition(rawValue: 100)
        let first = try #require(try await log.compact(before: floor, keeping: all.filter { $0.rawValue % 7 != 0 }))
        #expect(first.segmentsKept > 2 && first.segmentsReplaced == 0, "\(first)")
        _ = counting.takeFrameBytesRead()

        let fewer = all.filter { $0.rawValue % 7 > 1 }
        let second = try #require(try await log.compact(before: floor, keeping: fewer))
        #expect(counting.takeFrameBytesRead().isEmpty, "kept segments were scanned again")
        try await log.close()
        log = try SegmentLog.open(directory: directory.path, configuration: configuration)
        let scanned = try #require(try await log.compact(before: floor, keeping: fewer))
        #expect(second.segmentsKept == scanned.segmentsKept && second.recordsAfter == scanned.recordsAfter
                && second.bytesAfter == scanned.bytesAfter && second.segmentsReplaced == scanned.segmentsReplaced,
                "remembered: \(second); scanned: \(scanned)")

        // A tenth live: the remembered segments are now rewritten, so they are read (and checked).
        let tenth = all.filter { $0.rawValue % 10 == 0 }
        let third = try #require(try await log.compact(before: floor, keeping: tenth))
        #expect(third.segmentsReplaced > 2 && !counting.takeFrameBytesRead().isEmpty, "\(third)")
        for position in tenth { #expect(try log.record(at: position).payload == payloads[position]) }
        // A fourth compaction remembers nothing of the rewritten segments and still agrees.
        let fourth = try #require(try await log.compact(before: floor, keeping: tenth))
        #expect(fourth.segmentsReplaced == 0 && fourth.recordsAfter == third.recordsAfter, "\(fourth)")
        try await log.close()
        let keptFrom = try SelectiveCompactionTests.keptFrom(floor, directory)
        let reopened = try SegmentLog.open(directory: directory.path, configuration: configuration)
        try SelectiveCompactionTests.expectKept(reopened, directory, payloads: payloads, live: Set(tenth), keptFrom: keptFrom)
        try await reopened.close()
    }
}
