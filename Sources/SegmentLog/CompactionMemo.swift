import Synchronization

/// What compaction learnt about the segments it kept, so that the next compaction decides about
/// them without reading them again.
///
/// A kept candidate is sealed and lies below the floor: its bytes do not change until a
/// compaction rewrites it, and its live records only leave (a checkpoint never refers to a record
/// below the floor that the one before it did not). So its sizes, record count, end chain and the
/// frames that were live at its last scan are all a later compaction needs to count its live
/// bytes. A segment that compaction decides to rewrite is scanned again (every frame checked
/// before it is copied), and so is one whose live positions are not a subset of those remembered.
/// Held in memory only, by one log: the first compaction after an open scans every candidate.
final class CompactionMemo: Sendable {
    /// A frame that was live at the segment's last scan.
    struct LiveFrame {
        /// Its position minus the segment's first position.
        let positionOffset: UInt32
        let frameBytes: UInt32
    }

    /// One kept segment as its last scan found it.
    struct Segment {
        let header: SegmentHeader
        let fileBytes: Int
        let frameBytes: Int
        let records: Int
        let lastPosition: LogPosition
        let endChain: UInt32
        /// Ascending by position.
        let liveFrames: [LiveFrame]
    }

    private let segments = Mutex<[UInt64: Segment]>([:])

    /// Takes out everything remembered; compaction (one at a time per log) puts back what it
    /// kept with ``replace(with:)``, so a failed compaction leaves nothing stale behind.
    func takeAll() -> [UInt64: Segment] {
        segments.withLock { segments in
            defer { segments = [:] }
            return segments
        }
    }

    /// Remembers `kept`, keyed by segment id, in place of anything remembered before.
    func replace(with kept: [UInt64: Segment]) {
        assert(kept.allSatisfy { $0.key == $0.value.header.segmentId })
        segments.withLock { $0 = kept }
    }
}
