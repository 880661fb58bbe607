/// What ``SegmentLog/compact(before:keeping:)`` did.
///
/// The candidates are the sealed segments whose records all lay below the floor; "before" and
/// "after" count only them (the rest of the log is untouched).
public struct CompactionReport: Sendable, Equatable, CustomStringConvertible {
    /// The replay floor the compaction set (``SegmentLog/replayFloor``).
    public let floor: LogPosition
    /// Candidate segments rewritten into compacted segments.
    public internal(set) var segmentsReplaced = 0
    /// Compacted segments written: one per run of consecutive rewritten candidates.
    public internal(set) var segmentsWritten = 0
    /// Candidate segments kept byte for byte (more than a third live, or nothing to drop).
    public internal(set) var segmentsKept: Int
    /// Records the candidates held.
    public let recordsBefore: Int
    /// Records the candidates' replacements and kept candidates hold.
    public internal(set) var recordsAfter: Int
    /// Bytes of the candidate segment files.
    public let bytesBefore: Int
    /// Bytes of the kept candidates and the compacted segments.
    public internal(set) var bytesAfter: Int
    /// Bytes compaction wrote: the compacted segments (headers included).
    public internal(set) var bytesWritten = 0
    /// Wall-clock time taken.
    public internal(set) var duration: Duration = .zero

    init(floor: LogPosition, scanned: [CompactionCandidate]) {
        self.floor = floor
        segmentsKept = scanned.count
        recordsBefore = scanned.reduce(0) { $0 + $1.records }
        recordsAfter = recordsBefore
        bytesBefore = scanned.reduce(0) { $0 + $1.fileBytes }
        bytesAfter = bytesBefore
    }

    /// What a store without segments (a database) dropped: below `floor` it held `recordsBefore`
    /// records of `bytesBefore` bytes and keeps `recordsAfter` of `bytesAfter`; it wrote nothing.
    public init(floor: LogPosition, recordsBefore: Int, recordsAfter: Int, bytesBefore: Int, bytesAfter: Int,
                duration: Duration) {
        precondition(0 <= recordsAfter && recordsAfter <= recordsBefore && 0 <= bytesAfter && bytesAfter <= bytesBefore)
        self.floor = floor
        segmentsKept = 0
        self.recordsBefore = recordsBefore
        self.recordsAfter = recordsAfter
        self.bytesBefore = bytesBefore
        self.bytesAfter = bytesAfter
        self.duration = duration
    }

    /// Counts a run of candidates replaced by one compacted segment of `bytesWritten` bytes.
    mutating func add(run: ArraySlice<CompactionCandidate>, bytesWritten written: Int) {
        precondition(!run.isEmpty && run.count <= segmentsKept)
        segmentsReplaced += run.count
        segmentsKept -= run.count
        segmentsWritten += 1
        recordsAfter -= run.reduce(0) { $0 + $1.records - $1.liveRecords }
        bytesAfter += written - run.reduce(0) { $0 + $1.fileBytes }
        bytesWritten += written
        assert(recordsAfter >= 0 && bytesAfter >= 0)
    }

    public var description: String {
        "compacted below position \(floor): \(segmentsReplaced) segments into \(segmentsWritten), \(segmentsKept) kept; "
            + "\(recordsBefore) records, \(bytesBefore) bytes -> \(recordsAfter) records, \(bytesAfter) bytes "
            + "(\(bytesWritten) written) in \(duration)"
    }
}
