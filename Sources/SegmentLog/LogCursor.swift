/// Reads records in position order, checking every frame's checksum, that positions strictly
/// increase, and that each segment continues the chain of the one before it.
///
/// ```swift
/// var cursor = try LogReader(directory: path).records(from: .start)
/// while let record = try cursor.next() {
///     print(record.position, record.type, record.payload.count)
/// }
/// ```
public struct LogCursor {
    private let fileSystem: any FileSystem
    private let segments: [SegmentFile]
    private let lowerBound: LogPosition
    private let upperBound: LogPosition?
    private var segmentIndex: Int
    private var scanner: SegmentScanner?
    private var segmentHeader: SegmentHeader?
    /// The chain value the next segment must continue from; nil before the first segment read.
    private var chain: UInt32?
    private var finished = false
    /// When set, damage in the last segment is an error like anywhere else, not a torn tail.
    private let lastSegmentIsSealed: Bool
    /// When set, the first segment read must continue from chain 0, as the log's first segment
    /// always does (compaction keeps it): a deleted first segment is then detected.
    private let startsAtLogStart: Bool

    /// The position of the last record read.
    public private(set) var lastPosition: LogPosition = .start
    /// How many records ``next()`` has returned.
    public private(set) var recordsReturned = 0
    /// Invalid bytes found at the end of the last segment instead of more records.
    public private(set) var tornTail: TornTail?
    /// The sizes of the segment files read to their end, as found when each was opened.
    private(set) var bytesOfSegmentsRead = 0
    /// The damage that made ``next()`` throw, when it was damage (not an I/O error): `repair`
    /// cuts only where the table says ``RecoveryAction/refuseRepairable``.
    private(set) var refusal: RecoveryDecision?

    /// Where the cursor stopped, once ``next()`` returned nil: what a writer resumes from.
    struct End {
        let segment: SegmentFile
        let header: SegmentHeader
        let validBytes: Int
        let fileSize: Int
        let chain: UInt32
    }
    private(set) var end: End?

    init(segments: [SegmentFile], fileSystem: any FileSystem, from lowerBound: LogPosition,
         through upperBound: LogPosition?, startSegmentIndex: Int, lastSegmentIsSealed: Bool = false,
         startsAtLogStart: Bool = false) {
        precondition(startSegmentIndex >= 0 && startSegmentIndex <= segments.count)
        self.lastSegmentIsSealed = lastSegmentIsSealed
        self.startsAtLogStart = startsAtLogStart
        self.segments = segments
        self.fileSystem = fileSystem
        self.lowerBound = lowerBound
        self.upperBound = upperBound
        self.segmentIndex = startSegmentIndex
    }

    /// The next record at or after the starting position, or nil at the end of the log.
    public mutating func next() throws -> LogRecord? {
        // Reading through a bound stops at it rather than scanning on into a live tail.
        if let upperBound, lastPosition >= upperBound, scanner != nil {
            try scanner!.file.close()
            scanner = nil
            finished = true
        }
        while !finished {
            if scanner == nil {
                guard segmentIndex < segments.count else { finished = true; return nil }
                try openSegment(segments[segmentIndex])
            }
            do {
                switch try scanner!.next() {
                case .frame(let frame):
                    if let record = try accept(frame) { return record }
                case .end:
                    try finishSegment(validBytes: scanner!.fileSize)
                case .invalid(let reason):
                    try handleInvalid(reason: reason)
                }
            } catch let failure as SegmentScanner.Failure {
                let file = segments[segmentIndex].path
                throw refuse(failure.damage, file: file, offset: failure.offset,
                             error: .corruptFrame(file: file, offset: failure.offset, reason: failure.reason))
            }
        }
        return nil
    }

    /// Where damage found now would be, for ``RecoveryDecision``'s table.
    private var place: DamagePlace {
        segmentIndex == segments.count - 1 && !lastSegmentIsSealed ? .lastSegment : .sealedSegment
    }

    /// Records damage the table refuses, and returns the error to throw for it.
    private mutating func refuse(_ damage: LogDamage, file: String, offset: Int, error: SegmentLogError) -> SegmentLogError {
        let decision = RecoveryDecision(damage: damage, place: place, file: file, offset: offset)
        precondition(decision.action == .refuse || decision.action == .refuseRepairable,
                     "\(damage) in a \(place) is not an error per the recovery table")
        assert(refusal == nil, "a cursor stops at its first error")
        refusal = decision
        return error
    }

    private mutating func openSegment(_ segment: SegmentFile) throws {
        let file = try fileSystem.openFile(at: segment.path, mode: .readOnly)
        do {
            let size = try file.size()
            let header = try checkedHeader(of: segment, in: file)
            segmentHeader = header
            chain = header.previousChain
            scanner = SegmentScanner(file: file, fileName: segment.path, fileSize: size, startOffset: SegmentHeader.byteCount)
        } catch {
            try? file.close()
            throw error
        }
    }

    /// The segment's header, checked on its own and against the segments read before it.
    private mutating func checkedHeader(of segment: SegmentFile, in file: any OpenFile) throws -> SegmentHeader {
        let header: SegmentHeader
        do {
            header = try segment.readHeader(from: file)
        } catch let error as SegmentLogError {
            guard let damage = RecoveryDecision.headerDamage(of: error) else { throw error }
            throw refuse(damage, file: segment.path, offset: 0, error: error)
        }
        let expectedChain = chain ?? (startsAtLogStart ? 0 : header.previousChain)
        if header.previousChain != expectedChain {
            throw refuse(.brokenChain, file: segment.path, offset: 0,
                         error: .brokenChain(file: segment.path, expected: expectedChain, found: header.previousChain))
        }
        guard header.firstPosition > lastPosition else {
            throw refuse(.segmentOutOfOrder, file: segment.path, offset: 0, error: .corruptSegmentHeader(
                file: segment.path, reason: "first position \(header.firstPosition) is not after the previous segment's last record \(lastPosition)"))
        }
        return header
    }

    private mutating func accept(_ frame: ScannedFrame) throws -> LogRecord? {
        let position = frame.header.position
        guard position > lastPosition, position >= segmentHeader!.firstPosition else {
            let file = segments[segmentIndex].path
            throw refuse(.positionOutOfOrder, file: file, offset: frame.offset, error: .corruptFrame(
                file: file, offset: frame.offset,
                reason: "position \(position) does not follow the previous record's \(lastPosition) (segment starts at \(segmentHeader!.firstPosition))"))
        }
        if let upperBound, position > upperBound {
            try finishSegment(validBytes: frame.offset)
            finished = true
            return nil
        }
        lastPosition = position
        chain = CRC32C.chain(chain!, appending: frame.checksum)
        guard position >= lowerBound else { return nil }
        let location = RecordLocation(segmentFileName: segments[segmentIndex].name, offset: frame.offset,
                                      storedBytes: frame.header.storedLength, isCompressed: frame.header.isCompressed)
        recordsReturned += 1
        return LogRecord(position: position, type: frame.header.type,
                         payload: try scanner!.payload(of: frame), location: location)
    }

    /// The bytes at the scanner's offset are no frame: what follows them, and where, decides.
    private mutating func handleInvalid(reason: String) throws {
        let scanner = scanner!
        let contents = try TornTail.classify(file: scanner.file, fileSize: scanner.fileSize, offset: scanner.offset,
                                             lastPosition: lastPosition)
        switch RecoveryDecision.action(for: contents.damage, at: place) {
        case .endOfLog:
            break
        case .cutTornTail:
            guard case .torn(let discardedBytes) = contents else { preconditionFailure("only a torn frame is cut") }
            tornTail = TornTail(segmentFileName: segments[segmentIndex].name, offset: scanner.offset,
                                discardedBytes: discardedBytes, reason: reason)
        case .refuse, .refuseRepairable:
            throw refuse(contents.damage, file: scanner.fileName, offset: scanner.offset, error: .corruptFrame(
                file: scanner.fileName, offset: scanner.offset, reason: explanation(of: contents, reason: reason)))
        }
        try finishSegment(validBytes: scanner.offset)
    }

    /// Why invalid bytes the table refuses are damage, and what to do about it.
    private func explanation(of contents: TornTail.Contents, reason: String) -> String {
        switch (place, contents) {
        case (.sealedSegment, _):
            return reason + " (in a sealed segment, where no write was in progress)"
        case (.lastSegment, .damageBeforeValidRecord(let later)):
            return "\(reason); a valid record follows at offset \(later), so this is damage, "
                + "not a torn write. Run `asched repair` to cut the log here (a .broken copy is kept)"
        case (.lastSegment, _):
            preconditionFailure("the recovery table refuses no other tail of the last segment")
        }
    }

    private mutating func finishSegment(validBytes: Int) throws {
        let scanner = scanner!
        chain = segmentHeader!.chainAfter(frames: chain!)
        end = End(segment: segments[segmentIndex], header: segmentHeader!, validBytes: validBytes,
                  fileSize: scanner.fileSize, chain: chain!)
        bytesOfSegmentsRead += scanner.fileSize
        try scanner.file.close()
        self.scanner = nil
        segmentIndex += 1
        if segmentIndex == segments.count { finished = true }
    }
}

/// A cursor holds an open file and a read buffer; use it from one task.
@available(*, unavailable)
extension LogCursor: Sendable {}
