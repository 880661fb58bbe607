import Foundation
import Glibc
import Synchronization

// Compaction's crash protocol, all of it in this file.
//
// Compaction replaces every sealed segment, ids f … i (i the last sealed one), with one
// compacted segment while appends go on into the active segment. Steps, in this order:
//
// 1. Read f … i as one log whose last segment is sealed (any bad byte is a hard error, not a
//    torn tail); `summarize` returns n replacement records, fewer than it read.
// 2. Give them the positions p − n + 1 … p, p the last replaced position, so that no later
//    position changes.
// 3. Header: id i; first position p − n + 1; previous chain = segment f's; end chain = the chain
//    after segment i; first replaced id f; the compacted flag.
// 4. Write it as `<i>.seg.tmp` (`O_EXCL`) in paced chunks, then `fdatasync` it.
// 5. `rename` it over `<i>.seg`.
// 6. `fsync` the directory: the commit point. From here every reader ignores f … i − 1, since
//    the durable header of `<i>.seg` says it replaces them (`SegmentFile.listing`).
// 7. Delete f … i − 1, then `fsync` the directory.
//
// Steps 4–6 are `DurableFileCreation`, the same path every new segment takes.
//
// After a crash: before step 6 completes, either the old segments or the compacted one are in
// force, and both fold to the same state; a leftover `.seg.tmp` is removed at the next open.
// After step 6, replaced segments not yet deleted are ignored and removed at the next writer's
// open (`removeLeftovers`, below). `close()` waits for a running compaction (`CompactionGate`),
// so no second writer takes the directory in the middle of the protocol.

extension SegmentLog {
    /// Replaces every sealed segment with one compacted segment holding the records
    /// `summarize` returns for them, while appends to the active segment go on.
    ///
    /// `summarize` reads the sealed records from the cursor it is given, in order, and returns
    /// records that stand in for all of them (a checkpoint of the state they fold to), or nil
    /// when compacting is not worth it. There must be fewer of them than records read. They take
    /// the last positions up to the last sealed record's, so positions stay strictly increasing
    /// and every later position is unchanged. Returns nil when nothing was compacted. The work
    /// runs on a thread of its own, not on the caller's. One compaction per log at a time: a
    /// second call while one runs is a programming error and traps.
    ///
    /// Crash-safe at every step: the compacted segment is written under a temporary name and
    /// synced, renamed over the last sealed segment (the commit point: its header says which
    /// segments it replaces, so readers ignore them from then on), the directory synced, and only
    /// then are the replaced segments deleted.
    ///
    /// ```swift
    /// let report = try await log.compactSealedSegments { cursor in
    ///     var state = MyState()
    ///     while let record = try cursor.next() { state.apply(record) }
    ///     return state.checkpointEntries()
    /// }
    /// ```
    public func compactSealedSegments(
        summarize: @escaping @Sendable (inout LogCursor) throws -> [LogEntry]?
    ) async throws -> CompactionReport? {
        // Entered here, not on the thread, so a close() right after this call already waits.
        compactionGate.enter()
        return try await withCheckedThrowingContinuation { continuation in
            // A thread of its own, not a pool thread: the lowered priority must end with it.
            let thread = Thread {
                // Background work: a higher nice value keeps it from taking CPU from appenders,
                // whose latency is what users feel. On Linux, who = 0 means this thread only.
                setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
                let result = Result { try self.compactNow(summarize: summarize) }
                self.compactionGate.leave()
                continuation.resume(with: result)
            }
            thread.name = "SegmentLog.compaction"
            thread.start()
        }
    }

    /// Seals the segment being appended to (if it holds any record), so that a following
    /// compaction covers everything written so far. Offline compaction (`asched compact`) uses it.
    public func sealActiveSegment() async throws {
        try await committer.sealActiveSegment()
    }

    /// Steps 1–7, in order.
    private func compactNow(summarize: (inout LogCursor) throws -> [LogEntry]?) throws -> CompactionReport? {
        let started = ContinuousClock.now
        let fileSystem = configuration.fileSystem
        let sealed = try SegmentFile.list(in: directory, fileSystem: fileSystem)
            .filter { $0.segmentId < committer.activeSegmentId }
        guard let firstSealed = sealed.first, let lastSealed = sealed.last else { return nil }
        let firstHeader = try firstSealed.readHeader(fileSystem: fileSystem)
        // Step 1.
        var cursor = LogCursor(segments: sealed, fileSystem: fileSystem, from: .start, through: nil,
                               startSegmentIndex: 0, lastSegmentIsSealed: true)
        guard let entries = try summarize(&cursor) else { return nil }
        while try cursor.next() != nil {}
        let recordsBefore = cursor.recordsReturned
        precondition(entries.count < recordsBefore || recordsBefore == 0 && entries.isEmpty,
                     "compaction must produce fewer records (\(entries.count)) than it replaces (\(recordsBefore))")
        let through = cursor.lastPosition
        // Steps 2 and 3.
        let header = SegmentHeader(
            segmentId: lastSealed.segmentId,
            firstPosition: LogPosition(rawValue: max(1, through.rawValue + 1 - UInt64(entries.count))),
            previousChain: firstHeader.previousChain,
            replacement: .init(firstReplacedSegmentId: firstSealed.segmentId, endChain: cursor.end!.chain))
        assert(header.firstPosition <= through || entries.isEmpty)
        let bytesBefore = try sealed.reduce(0) { try $0 + $1.fileBytes(fileSystem: fileSystem) }
        // Steps 4, 5 and 6.
        let bytesAfter = try writeCompacted(header, entries: entries, replacing: lastSealed)
        // From the commit point on, the log is the compacted segment, not the replaced ones.
        committer.compacted(bytesBefore: bytesBefore, bytesAfter: bytesAfter)
        // Step 7.
        for segment in sealed.dropLast() { try fileSystem.removeFile(at: segment.path) }
        // The deletions need not survive a crash (replaced segments are ignored, then removed at
        // open), but syncing them returns the space for good.
        try fileSystem.synchronizeDirectory(at: directory)
        return CompactionReport(segmentsReplaced: sealed.count, recordsBefore: recordsBefore, recordsAfter: entries.count,
                                bytesBefore: bytesBefore, bytesAfter: bytesAfter, throughPosition: through,
                                duration: ContinuousClock.now - started)
    }

    /// How much of a compacted segment is written between two syncs.
    static let compactionSyncChunkBytes = 256 << 10

    /// Steps 4–6: writes the compacted segment and renames it over `lastSealed`; returns its size.
    private func writeCompacted(_ header: SegmentHeader, entries: [LogEntry], replacing lastSealed: SegmentFile) throws -> Int {
        precondition(header.replacement != nil && header.segmentId == lastSealed.segmentId)
        var batch = EncodedBatch()
        let end = batch.append(entries.map { PreparedPayload($0, compression: configuration.compression) },
                               from: header.firstPosition)
        assert(end.rawValue == header.firstPosition.rawValue + UInt64(entries.count))
        let file = try DurableFileCreation.create(named: lastSealed.name, in: directory,
                                                  fileSystem: configuration.fileSystem) { file in
            try file.write(header.encoded(), at: 0)
            try Self.writePaced(batch.bytes, to: file, at: SegmentHeader.byteCount)
        }
        try file.close()
        return SegmentHeader.byteCount + batch.bytes.count
    }

    /// Writes `bytes` a chunk at a time, syncing between chunks: each sync stays short, so
    /// appenders' syncs never queue behind one large flush. (The creation syncs the last chunk.)
    private static func writePaced(_ bytes: [UInt8], to file: any OpenFile, at start: Int) throws {
        precondition(start >= SegmentHeader.byteCount)
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + compactionSyncChunkBytes, bytes.count)
            try bytes.withUnsafeBytes { try file.write(UnsafeRawBufferPointer(rebasing: $0[offset..<end]), at: start + offset) }
            offset = end
            guard offset < bytes.count else { break }
            // Not for durability (the creation's sync gives that) but to bound each flush.
            let started = ContinuousClock.now
            try file.synchronizeData()
            // Leave the disk to appenders for as long as the chunk held it: compaction takes at
            // most half the disk's time, so their syncs rarely wait behind one of its flushes.
            Thread.sleep(forTimeInterval: seconds(ContinuousClock.now - started))
        }
        assert(offset == bytes.count)
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// The recovery half of the protocol, run at every writer's open: removes what an interrupted
    /// segment creation (`.seg.tmp`), preparation (`next.prealloc`) or compaction (`.seg.tmp`,
    /// replaced segments) left behind.
    static func removeLeftovers(in directory: String, fileSystem: any FileSystem) throws {
        var removed = false
        for name in try fileSystem.contentsOfDirectory(at: directory)
        where name.hasSuffix(SegmentFileName.suffix + SegmentFileName.temporarySuffix)
            || name == SegmentFileName.preallocatedName {
            try fileSystem.removeFile(at: directory + "/" + name)
            removed = true
        }
        for segment in try SegmentFile.listing(in: directory, fileSystem: fileSystem).replaced {
            try fileSystem.removeFile(at: segment.path)
            removed = true
        }
        // Leftovers are unnamed data; syncing their removal keeps a crash from resurrecting them.
        if removed { try fileSystem.synchronizeDirectory(at: directory) }
    }
}

/// At most one compaction per log at a time, and a way to wait for a running one without
/// polling: waiters are resumed when it leaves.
final class CompactionGate: Sendable {
    private struct State {
        var running = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    /// Marks a compaction as running; a second one at once would replace the same segments.
    func enter() {
        state.withLock { state in
            precondition(!state.running, "compactSealedSegments called while another compaction of this log runs")
            assert(state.waiters.isEmpty)
            state.running = true
        }
    }

    /// Marks the running compaction finished and resumes everyone waiting for it.
    func leave() {
        let waiters = state.withLock { state in
            precondition(state.running, "no compaction is running")
            state.running = false
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once no compaction is running.
    func waitUntilIdle() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let running = state.withLock { state in
                if state.running { state.waiters.append(continuation) }
                return state.running
            }
            if !running { continuation.resume() }
        }
    }
}
