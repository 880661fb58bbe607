import Foundation
import Glibc

extension SegmentLog {
    /// Replaces every sealed segment with one compacted segment holding the records
    /// `summarize` returns for them, while appends to the active segment go on.
    ///
    /// `summarize` reads the sealed records from the cursor it is given, in order, and returns
    /// records that stand in for all of them (a checkpoint of the state they fold to), or nil
    /// when compacting is not worth it. There must be fewer of them than records read. They take
    /// the last positions up to the last sealed record's, so positions stay strictly increasing
    /// and every later position is unchanged. Returns nil when nothing was compacted. The work
    /// runs on a thread of its own, not on the caller's.
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
        try await withCheckedThrowingContinuation { continuation in
            // A thread of its own, not a pool thread: the lowered priority must end with it.
            let thread = Thread {
                // Background work: a higher nice value keeps it from taking CPU from appenders,
                // whose latency is what users feel. On Linux, who = 0 means this thread only.
                setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
                continuation.resume(with: Result { try self.compactNow(summarize: summarize) })
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

    private func compactNow(summarize: (inout LogCursor) throws -> [LogEntry]?) throws -> CompactionReport? {
        let started = ContinuousClock.now
        let fileSystem = configuration.fileSystem
        guard compacting.withLock({ busy in defer { busy = true }; return !busy }) else {
            preconditionFailure("compactSealedSegments called while another compaction of this log runs")
        }
        defer { compacting.withLock { $0 = false } }
        let sealed = try SegmentFile.list(in: directory, fileSystem: fileSystem)
            .filter { $0.segmentId < committer.activeSegmentId }
        guard let firstSealed = sealed.first, let lastSealed = sealed.last else { return nil }
        let firstHeader = try firstSealed.readHeader(fileSystem: fileSystem)
        var cursor = LogCursor(segments: sealed, fileSystem: fileSystem, from: .start, through: nil,
                               startSegmentIndex: 0, lastSegmentIsSealed: true)
        guard let entries = try summarize(&cursor) else { return nil }
        while try cursor.next() != nil {}
        let recordsBefore = cursor.recordsReturned
        let end = cursor.end!
        precondition(entries.count < recordsBefore || recordsBefore == 0 && entries.isEmpty,
                     "compaction must produce fewer records (\(entries.count)) than it replaces (\(recordsBefore))")
        let through = cursor.lastPosition
        let header = SegmentHeader(
            segmentId: lastSealed.segmentId,
            firstPosition: LogPosition(rawValue: max(1, through.rawValue + 1 - UInt64(entries.count))),
            previousChain: firstHeader.previousChain,
            replacement: .init(firstReplacedSegmentId: firstSealed.segmentId, endChain: end.chain))
        var bytesBefore = 0
        for segment in sealed {
            let file = try fileSystem.openFile(at: segment.path, mode: .readOnly)
            defer { try? file.close() }
            bytesBefore += try file.size()
        }
        let bytesAfter = try writeCompacted(header, entries: entries, replacing: lastSealed)
        for segment in sealed.dropLast() { try fileSystem.removeFile(at: segment.path) }
        // The deletions need not survive a crash (replaced segments are ignored, then removed at
        // open), but syncing them returns the space for good.
        try fileSystem.synchronizeDirectory(at: directory)
        return CompactionReport(segmentsReplaced: sealed.count, recordsBefore: recordsBefore, recordsAfter: entries.count,
                                bytesBefore: bytesBefore, bytesAfter: bytesAfter, throughPosition: through,
                                duration: ContinuousClock.now - started)
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// How much of a compacted segment is written between two syncs.
    static let compactionSyncChunkBytes = 256 << 10

    /// Writes the compacted segment and renames it over `lastSealed`; returns its size.
    private func writeCompacted(_ header: SegmentHeader, entries: [LogEntry], replacing lastSealed: SegmentFile) throws -> Int {
        let fileSystem = configuration.fileSystem
        let temporary = lastSealed.path + SegmentFileName.temporarySuffix
        if fileSystem.fileExists(at: temporary) { try fileSystem.removeFile(at: temporary) }
        let file = try fileSystem.openFile(at: temporary, mode: .createNew)
        defer { try? file.close() }
        var batch = EncodedBatch()
        var position = header.firstPosition
        for entry in entries {
            let prepared = PreparedPayload(entry, compression: configuration.compression)
            batch.append(position: position, type: prepared.type, flags: prepared.flags, payload: prepared.stored,
                         rawLength: prepared.rawLength, payloadChecksum: prepared.checksum)
            position = position.next
        }
        try file.write(header.encoded(), at: 0)
        var offset = 0
        while offset < batch.bytes.count {
            let end = min(offset + Self.compactionSyncChunkBytes, batch.bytes.count)
            try batch.bytes.withUnsafeBytes {
                try file.write(UnsafeRawBufferPointer(rebasing: $0[offset..<end]), at: SegmentHeader.byteCount + offset)
            }
            // Flushing a chunk at a time keeps each sync short, so appenders' syncs never queue
            // behind one large flush; the last one also makes every byte durable before the
            // rename makes this file the log's beginning.
            let started = ContinuousClock.now
            try file.synchronizeData()
            // Leave the disk to appenders for as long as the chunk held it: compaction takes at
            // most half the disk's time, so their syncs rarely wait behind one of its flushes.
            Thread.sleep(forTimeInterval: Self.seconds(ContinuousClock.now - started))
            offset = end
        }
        if batch.bytes.isEmpty { try file.synchronizeData() }
        try fileSystem.rename(from: temporary, to: lastSealed.path)
        // The commit point: once the rename is durable, the replaced segments are ignored.
        try fileSystem.synchronizeDirectory(at: directory)
        return SegmentHeader.byteCount + batch.bytes.count
    }
}
