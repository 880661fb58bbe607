import Synchronization

// Compaction's crash protocol, all of it in this file.
//
// `compact(before: floor, keeping: live)` drops the records below `floor` that are not `live`,
// segment by segment, while appends go on into the active segment. Candidates are the sealed
// segments whose records all lie below the floor (the next segment starts at or before it).
// Steps, in this order:
//
// 1. Write `FLOOR` (`ReplayFloor.write`: `FLOOR.tmp`, `fdatasync`, `rename`, `fsync` the
//    directory). From here a replay folds only records at or after the floor, so whatever a later
//    step drops below it was never going to be folded.
// 2. Scan each candidate's frames (checksums, order, chain): its frame bytes and live bytes. A
//    candidate this log kept at an earlier compaction is not read again unless it is now to be
//    rewritten: its sizes, chain and live frames are remembered (`CompactionMemo`).
// 3. A candidate at most 1/3 live (`CompactionCandidate.liveFractionMax`) is rewritten, any other
//    kept byte for byte. Each run f … i of consecutive rewritten candidates becomes one compacted
//    segment holding the run's live frames, copied verbatim (position, type, flags, stored
//    payload, checksum). Header: id i; first position = segment f's; previous chain = segment f's;
//    end chain = the chain after segment i; first replaced id f; flags compacted and dropped-below-
//    floor (so a build without the floor refuses the log rather than misreads it). A run with no
//    live frame becomes a header alone, so the chain across the kept segments still checks.
// 4. Write it as `<i>.seg.tmp` (`O_EXCL`) in paced chunks, then `fdatasync` it.
// 5. `rename` it over `<i>.seg`.
// 6. `fsync` the directory: the run's commit point. From here every reader ignores f … i − 1,
//    since the durable header of `<i>.seg` says it replaces them (`SegmentFile.listing`).
// 7. Delete f … i − 1. Steps 4–7 repeat per run; after the last run, `fsync` the directory.
//
// Steps 1 and 4–6 are `DurableFileCreation`, the path every new segment takes.
//
// After a crash: before step 1 completes, the old floor is in force and nothing was dropped.
// Afterwards, a run before its step 6 completes has either its old segments or its compacted one
// in force; both hold every live record at its position and the same records from the floor on
// (none: candidates lie below it). A leftover `.seg.tmp` or `FLOOR.tmp` is removed at the next
// open; after step 6, replaced segments not yet deleted are ignored and removed at the next
// writer's open (`removeLeftovers`, below). `close()` waits for a running compaction
// (`CompactionGate`), so no second writer takes the directory in the middle of the protocol.

extension SegmentLog {
    /// Compacts the sealed segments whose records all lie below `floor`, keeping the records at
    /// `live` (sorted ascending, all below floor) readable at their positions; records below the
    /// floor that are not live are dropped. Returns nil when no segment qualified (nothing is
    /// written then, not even the floor).
    ///
    /// The caller has appended, at `floor`, a record from which its state can be rebuilt (a
    /// checkpoint), and `live` lists the records below it that the checkpoint still refers to.
    /// `floor` becomes the ``replayFloor`` first, durably: from then on an open replays only
    /// records at or after it, and records below it are read with ``record(at:)``. The floor never
    /// moves back, and must be a position already appended; a call that breaks either traps.
    /// Records up to `floor` are synced first if the sync policy has not yet.
    ///
    /// A segment is rewritten only when at most a third of its frame bytes are live (otherwise
    /// kept untouched), so a live record is copied only together with twice its size dropped: over
    /// any run of compactions, the bytes they write stay below half the bytes appended (write
    /// amplification ≤ 1.5), and a long backlog is not rewritten again and again. Consecutive
    /// rewritten segments become one compacted segment; frames are copied as stored, never
    /// recompressed. The work runs on a thread of its own, not the caller's; one compaction per
    /// log at a time (a second call while one runs traps), and ``close()`` waits for it.
    ///
    /// Crash-safe at every step: the floor is written before anything is dropped, and each
    /// compacted segment is written under a temporary name and synced, renamed over the last
    /// segment it replaces (the commit point: its header says which segments it replaces, so
    /// readers ignore them from then on), the directory synced, and only then are the replaced
    /// segments deleted.
    ///
    /// ```swift
    /// let checkpoint = try await log.append(type: 9, payload: state.encoded())
    /// let report = try await log.compact(before: checkpoint, keeping: state.queuedPositions)
    /// ```
    public func compact(before floor: LogPosition, keeping live: [LogPosition]) async throws -> CompactionReport? {
        precondition(floor >= replayFloor, "the replay floor moves only forward (\(replayFloor) -> \(floor))")
        precondition(floor <= lastPosition, "the floor \(floor) must be a position already appended (last \(lastPosition))")
        precondition(zip(live, live.dropFirst()).allSatisfy { $0 < $1 }, "live positions must be sorted and distinct")
        precondition(live.last.map { $0 < floor } ?? true, "live positions must lie below the floor \(floor)")
        // What the floor stands on must survive any crash after the floor does.
        if durablePosition < floor { try await synchronize() }
        // Entered here, not on the thread, so a close() right after this call already waits.
        compactionGate.enter()
        return try await withCheckedThrowingContinuation { continuation in
            configuration.executor.detach(name: "SegmentLog.compaction") {
                let result = Result { try self.compactNow(before: floor, keeping: live) }
                self.compactionGate.leave()
                continuation.resume(with: result)
            }
        }
    }

    /// Seals the segment being appended to (if it holds any record), so that a following
    /// compaction can cover everything written so far. Offline compaction (`asched compact`) uses it.
    public func sealActiveSegment() async throws {
        try await committer.sealActiveSegment()
    }

    /// Steps 1–7, in order.
    private func compactNow(before floor: LogPosition, keeping live: [LogPosition]) throws -> CompactionReport? {
        let started = configuration.executor.now()
        let fileSystem = configuration.fileSystem
        // Taken out for the duration: a compaction that fails leaves nothing remembered.
        let remembered = compactionMemo.takeAll()
        let candidates = try candidateSegments(below: floor, remembered: remembered)
        guard !candidates.isEmpty else {
            compactionMemo.replace(with: remembered)
            return nil
        }
        // Step 1.
        if floor > replayFloor {
            try ReplayFloor.write(floor, directory: directory, fileSystem: fileSystem)
            self.floor.withLock { $0 = floor }
        }
        // Step 2.
        var scanned: [CompactionCandidate] = []
        var liveIndex = 0
        for segment in candidates {
            // A segment kept last time is read again only if it is now to be rewritten.
            let candidate = try remembered[segment.segmentId].flatMap {
                CompactionCandidate.remembered($0, segment: segment, live: live, liveIndex: &liveIndex)
            } ?? CompactionCandidate.scan(segment, below: floor, live: live, liveIndex: &liveIndex, fileSystem: fileSystem)
            if let previous = scanned.last, candidate.header.previousChain != previous.endChain {
                throw SegmentLogError.brokenChain(file: segment.path, expected: previous.endChain,
                                                  found: candidate.header.previousChain)
            }
            scanned.append(candidate)
        }
        // Steps 3–7.
        var report = CompactionReport(floor: floor, scanned: scanned)
        var deleted = false
        for run in Self.runs(of: scanned) {
            let written = try writeCompacted(run)
            report.add(run: run, bytesWritten: written)
            // From the run's commit point on, the log holds its compacted segment, not the run.
            committer.compacted(bytesBefore: run.reduce(0) { $0 + $1.fileBytes }, bytesAfter: written)
            positionIndex.invalidate()
            for candidate in run.dropLast() { try fileSystem.removeFile(at: candidate.segment.path) }
            deleted = deleted || run.count > 1
        }
        // The deletions need not survive a crash (replaced segments are ignored, then removed at
        // open), but syncing them returns the space for good.
        if deleted { try fileSystem.synchronizeDirectory(at: directory) }
        // Rewritten segments are forgotten: their ids now name compacted segments, scanned anew.
        compactionMemo.replace(with: Dictionary(uniqueKeysWithValues: scanned.filter { !$0.isRewritten }.compactMap { candidate in
            candidate.memo.map { (candidate.segment.segmentId, $0) }
        }))
        report.duration = configuration.executor.now() - started
        return report
    }

    /// The sealed segments whose records all lie below `floor`, in log order.
    private func candidateSegments(below floor: LogPosition,
                                   remembered: [UInt64: CompactionMemo.Segment]) throws -> [SegmentFile] {
        let segments = try SegmentFile.list(in: directory, fileSystem: configuration.fileSystem)
        let active = committer.activeSegmentId
        var candidates: [SegmentFile] = []
        for (segment, next) in zip(segments, segments.dropFirst()) where segment.segmentId < active {
            // Every record of `segment` lies below the next segment's first position.
            let nextHeader = try remembered[next.segmentId]?.header ?? next.readHeader(fileSystem: configuration.fileSystem)
            guard nextHeader.firstPosition <= floor else { break }
            candidates.append(segment)
        }
        assert(candidates.allSatisfy { $0.segmentId < active })
        return candidates
    }

    /// The runs of consecutive candidates to rewrite. A run of one segment with nothing to drop
    /// (an empty compacted segment, or one whose frames are all live) is left alone: rewriting it
    /// would write the same records again.
    static func runs(of candidates: [CompactionCandidate]) -> [ArraySlice<CompactionCandidate>] {
        var runs: [ArraySlice<CompactionCandidate>] = []
        var start: Int?
        for index in Array(candidates.indices) + [candidates.endIndex] {
            let rewritten = index < candidates.endIndex && candidates[index].isRewritten
            if rewritten, start == nil { start = index }
            if !rewritten, let first = start {
                runs.append(candidates[first..<index])
                start = nil
            }
        }
        let worthIt = runs.filter { $0.count > 1 || $0.first!.liveBytes < $0.first!.frameBytes }
        assert(worthIt.allSatisfy { run in run.allSatisfy(\.isRewritten) })
        return worthIt
    }

    /// How much of a compacted segment is written between two syncs.
    static let compactionSyncChunkBytes = 256 << 10

    /// Steps 3–6 for one run: writes its compacted segment and renames it over the run's last
    /// segment; returns the compacted segment's size.
    private func writeCompacted(_ run: ArraySlice<CompactionCandidate>) throws -> Int {
        let first = run.first!
        let last = run.last!
        let header = SegmentHeader(
            segmentId: last.segment.segmentId, firstPosition: first.header.firstPosition,
            previousChain: first.header.previousChain,
            replacement: .init(firstReplacedSegmentId: first.segment.segmentId, endChain: last.endChain,
                               droppedBelowFloor: true))
        let fileSystem = configuration.fileSystem
        var written = 0
        let file = try DurableFileCreation.create(named: last.segment.name, in: directory, fileSystem: fileSystem) { file in
            try file.write(header.encoded(), at: 0)
            var output = PacedWriter(file: file, offset: SegmentHeader.byteCount, executor: configuration.executor)
            for candidate in run where !candidate.liveRanges.isEmpty {
                let source = try fileSystem.openFile(at: candidate.segment.path, mode: .readOnly)
                defer { try? source.close() }
                for range in candidate.liveRanges {
                    var offset = range.offset
                    while offset < range.offset + range.length {
                        let count = min(Self.compactionSyncChunkBytes, range.offset + range.length - offset)
                        let bytes = try source.read(count: count, at: offset)
                        guard bytes.count == count else {
                            throw SegmentLogError.corruptFrame(file: candidate.segment.path, offset: offset,
                                                               reason: "sealed segment shrank while compaction copied it")
                        }
                        try output.append(bytes)
                        offset += count
                    }
                }
            }
            try output.flush()
            written = output.offset
        }
        try file.close()
        assert(written == SegmentHeader.byteCount + run.reduce(0) { $0 + $1.liveBytes })
        return written
    }

    /// Writes bytes in chunks of ``compactionSyncChunkBytes``, syncing between chunks: each sync
    /// stays short, so appenders' syncs never queue behind one large flush. (The creation syncs
    /// the last chunk.)
    private struct PacedWriter {
        let file: any OpenFile
        let executor: any LogExecutor
        private(set) var offset: Int
        private var pending: [UInt8] = []

        init(file: any OpenFile, offset: Int, executor: any LogExecutor) {
            precondition(offset >= SegmentHeader.byteCount)
            self.file = file
            self.offset = offset
            self.executor = executor
        }

        mutating func append(_ bytes: [UInt8]) throws {
            pending.append(contentsOf: bytes)
            guard pending.count >= SegmentLog.compactionSyncChunkBytes else { return }
            try flush()
            // Not for durability (the creation's sync gives that) but to bound each flush.
            let started = executor.now()
            try file.synchronizeData()
            // Leave the disk to appenders for as long as the chunk held it: compaction takes at
            // most half the disk's time, so their syncs rarely wait behind one of its flushes.
            executor.pause(for: executor.now() - started)
        }

        mutating func flush() throws {
            guard !pending.isEmpty else { return }
            try file.write(pending, at: offset)
            offset += pending.count
            pending.removeAll(keepingCapacity: true)
            assert(pending.isEmpty)
        }
    }

    /// The recovery half of the protocol, run at every writer's open: removes what an interrupted
    /// segment creation (`.seg.tmp`), preparation (`next.prealloc`) or compaction (`.seg.tmp`,
    /// `FLOOR.tmp`, replaced segments) left behind.
    static func removeLeftovers(in directory: String, fileSystem: any FileSystem) throws {
        var removed = false
        for name in try fileSystem.contentsOfDirectory(at: directory)
        where name.hasSuffix(SegmentFileName.suffix + SegmentFileName.temporarySuffix)
            || name == SegmentFileName.preallocatedName
            || name == ReplayFloor.fileName + SegmentFileName.temporarySuffix {
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
            precondition(!state.running, "compact(before:keeping:) called while another compaction of this log runs")
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
