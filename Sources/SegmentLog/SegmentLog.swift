import Synchronization

/// A segmented, checksummed, append-only log with group commit.
///
/// One writer per directory (an advisory lock guards it). Appends return the record's
/// position once the configured ``SyncPolicy`` holds; concurrent appenders share `fdatasync`s.
///
/// ```swift
/// let log = try SegmentLog.open(directory: "/tmp/example-log")
/// let position = try await log.append(type: 1, payload: Array("hello".utf8))
/// var cursor = try log.records(from: position)
/// let record = try cursor.next()      // the record just appended
/// try await log.close()
/// ```
public final class SegmentLog: Sendable {
    /// The log directory.
    public let directory: String
    /// Invalid bytes cut from the end of the last segment when the log was opened, if any.
    public let tornTail: TornTail?
    let configuration: Configuration
    let committer: GroupCommitter
    private let lockRelease: Mutex<(any OpenFile)?>
    /// Admits one compaction at a time; `close()` waits on it.
    let compactionGate = CompactionGate()
    /// What compaction knows of the segments it kept, so it does not read them again.
    let compactionMemo = CompactionMemo()
    /// Where ``record(at:)`` finds records; compaction invalidates it.
    let positionIndex: PositionIndex
    /// The durable `FLOOR` (or ``ReplayFloor/absent``); only compaction raises it.
    let floor: Mutex<LogPosition>

    private init(directory: String, configuration: Configuration, tornTail: TornTail?,
                 committer: GroupCommitter, lock: any OpenFile, floor: LogPosition) {
        self.directory = directory
        self.configuration = configuration
        self.tornTail = tornTail
        self.committer = committer
        self.lockRelease = Mutex(lock)
        self.positionIndex = PositionIndex(directory: directory, fileSystem: configuration.fileSystem)
        self.floor = Mutex(floor)
    }

    /// Opens (creating if needed) the log in `directory` for writing.
    ///
    /// Every segment is read and checked. A torn end of the last segment is cut and reported in
    /// ``tornTail``; damage anywhere else throws, naming the file and offset.
    public static func open(directory: String, configuration: Configuration = Configuration()) throws -> SegmentLog {
        try open(directory: directory, configuration: configuration, replaying: { _ in })
    }

    /// Opens the log like ``open(directory:configuration:)``, handing the records the check
    /// reads from the ``replayFloor`` on to `replay`, in order: a caller that rebuilds state from
    /// the log reads it once. Records below the floor are checked like all others but not passed
    /// (compaction may have dropped some of them; they are read by position only). Records after
    /// a torn tail are not passed; if open throws, discard what `replay` built.
    ///
    /// Throws ``SegmentLogError/corruptFloor(file:reason:)`` for a damaged `FLOOR` file and
    /// ``SegmentLogError/floorBeyondLog(file:floor:lastPosition:)`` when the log ends before it.
    public static func open(directory: String, configuration: Configuration = Configuration(),
                            replaying replay: (LogRecord) throws -> Void) throws -> SegmentLog {
        configuration.validate()
        let fileSystem = configuration.fileSystem
        try fileSystem.createDirectory(at: directory)
        let lock = try DirectoryLock.acquire(directory: directory, fileSystem: fileSystem)
        do {
            try removeLeftovers(in: directory, fileSystem: fileSystem)
            let storedFloor = try ReplayFloor.read(directory: directory, fileSystem: fileSystem)
            let floor = storedFloor ?? ReplayFloor.absent
            let resumed = try LogRecovery.resume(directory: directory, fileSystem: fileSystem, from: floor, replay: replay)
            if storedFloor != nil && floor > resumed.lastPosition {
                throw SegmentLogError.floorBeyondLog(file: directory + "/" + ReplayFloor.fileName, floor: floor,
                                                     lastPosition: resumed.lastPosition)
            }
            let writer = try SegmentWriter(fileSystem: fileSystem, directory: directory,
                                           segmentSizeBytes: configuration.segmentSizeBytes,
                                           preallocation: configuration.preallocation, segment: resumed.segment,
                                           writeOffset: resumed.writeOffset, chain: resumed.chain,
                                           sealedBytes: resumed.sealedBytes, executor: configuration.executor)
            let committer = GroupCommitter(writer: writer, policy: configuration.syncPolicy, onSync: configuration.onSync,
                                           executor: configuration.executor,
                                           lastPosition: resumed.lastPosition, nextPosition: resumed.nextPosition)
            return SegmentLog(directory: directory, configuration: configuration, tornTail: resumed.tornTail,
                              committer: committer, lock: lock, floor: floor)
        } catch {
            try? lock.close()
            throw error
        }
    }

    /// Appends one record; returns its position once it is durable per the sync policy.
    public func append(type: UInt8, payload: [UInt8]) async throws -> LogPosition {
        try await append(contentsOf: [LogEntry(type: type, payload: payload)]).upperBound
    }

    /// Appends records as consecutive positions in one write; returns their positions once all
    /// are durable per the sync policy.
    public func append(contentsOf entries: [LogEntry]) async throws -> ClosedRange<LogPosition> {
        let pending = try submit(entries, awaitedAtOnce: true)
        try await pending.durable()
        return pending.positions
    }

    /// Assigns positions to `entries` and queues them for the next group commit, without
    /// waiting; await ``PendingAppend/durable()`` before relying on them. Positions follow the
    /// order of calls.
    public func beginAppend(contentsOf entries: [LogEntry]) throws -> PendingAppend {
        try submit(entries, awaitedAtOnce: false)
    }

    private func submit(_ entries: [LogEntry], awaitedAtOnce: Bool) throws -> PendingAppend {
        precondition(!entries.isEmpty, "append needs at least one entry")
        for entry in entries where entry.payload.count > configuration.recordBytesMax {
            throw SegmentLogError.recordTooLarge(bytes: entry.payload.count, max: configuration.recordBytesMax)
        }
        let threshold = configuration.compression.lz4Threshold(committing: { committer.isCommitting })
        return try committer.submit(entries.map { PreparedPayload($0, compressionThreshold: threshold) },
                                    awaitedAtOnce: awaitedAtOnce)
    }

    /// The position of the last record written to the operating system (acknowledged under
    /// `interval` and `never`), or ``LogPosition/start`` for an empty log.
    public var lastPosition: LogPosition { committer.writtenPosition }

    /// Where a replay starts: records below it are history, kept only where a checkpoint at or
    /// after it still refers to them, and read by position (``record(at:)``). Position 1 until a
    /// ``compact(before:keeping:)`` raises it.
    public var replayFloor: LogPosition { floor.withLock { $0 } }

    /// The record at `position`, read from the segment that holds it (found from the segment
    /// headers and a sparse in-memory offset map, not by reading the log from the start), its
    /// checksum checked and its payload decompressed. Safe beside appends and a running
    /// compaction; any position up to ``lastPosition`` can be read.
    ///
    /// Throws ``SegmentLogError/noRecord(position:reason:)`` when the log holds no record there:
    /// after ``lastPosition``, in a gap, or dropped by compaction.
    ///
    /// ```swift
    /// let position = try await log.append(type: 1, payload: Array("item".utf8))
    /// let record = try log.record(at: position)   // record.payload == Array("item".utf8)
    /// ```
    public func record(at position: LogPosition) throws -> LogRecord {
        guard position.rawValue >= 1, position <= lastPosition else {
            throw SegmentLogError.noRecord(position: position, reason: "the log in \(directory) runs from 1 to \(lastPosition), replayed from \(replayFloor)")
        }
        return try positionIndex.records(at: [position])[0]
    }

    /// The records at `positions` (ascending, distinct), as ``record(at:)`` reads each, but with
    /// one file opened per segment and the frames between two positions read once: the way to
    /// read the items of a batch. Throws ``SegmentLogError/noRecord(position:reason:)`` for the
    /// first position the log holds no record at.
    public func records(at positions: [LogPosition]) throws -> [LogRecord] {
        guard let last = positions.last else { return [] }
        guard positions[0].rawValue >= 1, last <= lastPosition else {
            let outside = positions[0].rawValue >= 1 ? last : positions[0]
            throw SegmentLogError.noRecord(position: outside, reason: "the log in \(directory) runs from 1 to \(lastPosition), replayed from \(replayFloor)")
        }
        return try positionIndex.records(at: positions)
    }

    /// The position of the last record known to be on stable storage.
    public var durablePosition: LogPosition { committer.durablePosition }

    /// Counters since the log was opened.
    public var statistics: LogStatistics { committer.statistics }

    /// The records from `position` to the last one written when this is called.
    public func records(from position: LogPosition = .start) throws -> LogCursor {
        try LogReader(directory: directory, fileSystem: configuration.fileSystem)
            .records(from: position, through: lastPosition)
    }

    /// Writes and syncs what is pending, then releases the directory. Appends after this throw
    /// ``SegmentLogError/closed``.
    public func close() async throws {
        // A compaction still running must finish before another writer may take the directory.
        await compactionGate.waitUntilIdle()
        // Released only after the final sync (or its failure), so no second writer starts before.
        defer {
            lockRelease.withLock { lock in
                try? lock?.close()
                lock = nil
            }
        }
        try await committer.close()
    }

    /// Forces an `fdatasync` of every record written so far, whatever the sync policy; a
    /// caller that is about to act on records (send what they describe) under `interval` or
    /// `never` uses it so nothing leaves the process before its record is on disk.
    public func synchronize() async throws {
        try await committer.synchronize()
    }

    /// The bytes still free for the log on the device holding its directory.
    public func availableBytes() throws -> Int {
        try configuration.fileSystem.availableBytes(at: directory)
    }

    /// The sync policy the log was opened with.
    public var syncPolicy: SyncPolicy { configuration.syncPolicy }

    /// The largest payload an append accepts.
    public var recordBytesMax: Int { configuration.recordBytesMax }
}
