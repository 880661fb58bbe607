/// A sealed segment whose records all lie below the floor, as compaction's scan found it: how
/// many bytes its frames take, which of them are live, and the chain value it ends with.
struct CompactionCandidate {
    /// A segment is rewritten when at most this fraction of its frame bytes is live (1/3), and
    /// kept byte for byte otherwise. A rewritten record is one of at most 1 live byte for every 2
    /// dropped, and dropped bytes are never written again, so the bytes compaction writes stay
    /// within half the bytes appended, however long an outage lasts.
    static let liveFractionMax = (numerator: 1, denominator: 3)

    /// A span of consecutive live frames in the segment file.
    struct LiveRange {
        let offset: Int
        var length: Int
    }

    let segment: SegmentFile
    let header: SegmentHeader
    let fileBytes: Int
    private(set) var frameBytes = 0
    private(set) var records = 0
    private(set) var liveBytes = 0
    private(set) var liveRecords = 0
    /// Where the live frames are; kept only while the segment may still be rewritten.
    private(set) var liveRanges: [LiveRange] = []
    /// The live frames, for the ``CompactionMemo`` of a kept segment.
    private(set) var liveFrames: [CompactionMemo.LiveFrame] = []
    /// False once a live frame lies too far from the segment's first position (over 2³² records:
    /// a compacted segment keeps its run's first position) to be remembered: the segment is then
    /// scanned again by the next compaction, which is slower but never wrong.
    private(set) var isRememberable = true
    /// The position of the segment's last frame (``LogPosition/start`` when it has none).
    private(set) var lastPosition = LogPosition.start
    /// The chain value the next segment must continue from (§6 of docs/FORMAT.md).
    private(set) var endChain: UInt32

    /// Whether compaction rewrites the segment (see ``liveFractionMax``).
    var isRewritten: Bool {
        liveBytes * Self.liveFractionMax.denominator <= frameBytes * Self.liveFractionMax.numerator
    }

    /// Reads every frame of `segment` (a sealed one: any invalid byte is damage), checking its
    /// checksum and order; a frame is live when its position is in `live`, which is sorted and
    /// read from `liveIndex` on (advanced past the segment's positions).
    static func scan(_ segment: SegmentFile, below floor: LogPosition, live: [LogPosition], liveIndex: inout Int,
                     fileSystem: any FileSystem) throws -> CompactionCandidate {
        let file = try fileSystem.openFile(at: segment.path, mode: .readOnly)
        defer { try? file.close() }
        let header = try segment.readHeader(from: file)
        let fileBytes = try file.size()
        var candidate = CompactionCandidate(segment: segment, header: header, fileBytes: fileBytes,
                                            endChain: header.previousChain)
        var scanner = SegmentScanner(file: file, fileName: segment.path, fileSize: fileBytes,
                                     startOffset: SegmentHeader.byteCount)
        var chain = header.previousChain
        var previous = LogPosition.start
        scanning: while true {
            switch try scanner.next() {
            case .end:
                break scanning
            case .invalid(let reason):
                throw SegmentLogError.corruptFrame(file: segment.path, offset: scanner.offset,
                                                   reason: reason + " (in a sealed segment, found by compaction)")
            case .frame(let frame):
                let position = frame.header.position
                guard position > previous, position >= header.firstPosition, position < floor else {
                    throw SegmentLogError.corruptFrame(file: segment.path, offset: frame.offset, reason:
                        "position \(position) is out of order or not below the floor \(floor) (previous \(previous))")
                }
                while liveIndex < live.count && live[liveIndex] < position { liveIndex += 1 }
                let isLive = liveIndex < live.count && live[liveIndex] == position
                candidate.add(frame, isLive: isLive)
                chain = CRC32C.chain(chain, appending: frame.checksum)
                previous = position
            }
        }
        candidate.endChain = header.chainAfter(frames: chain)
        candidate.lastPosition = previous
        if candidate.isRewritten { candidate.liveFrames = [] } else { candidate.liveRanges = [] }
        assert(candidate.frameBytes == fileBytes - SegmentHeader.byteCount, "a sealed segment ends at a frame")
        assert(candidate.liveBytes <= candidate.frameBytes && candidate.liveRecords <= candidate.records)
        return candidate
    }

    /// A kept segment as `memo` remembers it, its live frames now those of `live` (read from
    /// `liveIndex` on, advanced past the segment's positions, as ``scan(_:below:live:liveIndex:fileSystem:)``
    /// does); nil when `live` holds a position in the segment that was not live at its last scan,
    /// or when the segment is now to be rewritten: both need a scan.
    static func remembered(_ memo: CompactionMemo.Segment, segment: SegmentFile, live: [LogPosition],
                           liveIndex: inout Int) -> CompactionCandidate? {
        precondition(memo.header.segmentId == segment.segmentId)
        var candidate = CompactionCandidate(segment: segment, header: memo.header, fileBytes: memo.fileBytes,
                                            endChain: memo.endChain)
        candidate.frameBytes = memo.frameBytes
        candidate.records = memo.records
        candidate.lastPosition = memo.lastPosition
        var index = liveIndex
        let first = memo.header.firstPosition
        for frame in memo.liveFrames {
            let position = LogPosition(rawValue: first.rawValue + UInt64(frame.positionOffset))
            while index < live.count && live[index] < position {
                if live[index] >= first { return nil }
                index += 1
            }
            guard index < live.count && live[index] == position else { continue }
            candidate.liveBytes += Int(frame.frameBytes)
            candidate.liveRecords += 1
            candidate.liveFrames.append(frame)
            index += 1
        }
        if index < live.count && live[index] >= first && live[index] <= memo.lastPosition { return nil }
        guard !candidate.isRewritten else { return nil }
        assert(candidate.liveBytes <= candidate.frameBytes && candidate.liveRecords <= candidate.records)
        liveIndex = index
        return candidate
    }

    /// What a later compaction needs to know of this segment if it is kept; nil when its live
    /// frames cannot be remembered.
    var memo: CompactionMemo.Segment? {
        precondition(!isRewritten, "a rewritten segment is not remembered")
        guard isRememberable else { return nil }
        return CompactionMemo.Segment(header: header, fileBytes: fileBytes, frameBytes: frameBytes, records: records,
                                      lastPosition: lastPosition, endChain: endChain, liveFrames: liveFrames)
    }

    private mutating func add(_ frame: ScannedFrame, isLive: Bool) {
        let length = frame.header.frameLength
        frameBytes += length
        records += 1
        guard isLive else { return }
        liveBytes += length
        liveRecords += 1
        let offset = frame.header.position.rawValue - header.firstPosition.rawValue
        if let positionOffset = UInt32(exactly: offset), let frameBytes = UInt32(exactly: length) {
            liveFrames.append(CompactionMemo.LiveFrame(positionOffset: positionOffset, frameBytes: frameBytes))
        } else {
            isRememberable = false
        }
        if let last = liveRanges.last, last.offset + last.length == frame.offset {
            liveRanges[liveRanges.count - 1].length += length
        } else {
            liveRanges.append(LiveRange(offset: frame.offset, length: length))
        }
    }
}
