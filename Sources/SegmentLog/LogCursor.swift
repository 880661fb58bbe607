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
            switch try scanner!.next() {
            case .frame(let frame):
                if let record = try accept(frame) { return record }
            case .end:
                try finishSegment(validBytes: scanner!.fileSize)
            case .invalid(let reason):
                try handleInvalid(reason: reason)
            }
        }
        return nil
    }

    private mutating func openSegment(_ segment: SegmentFile) throws {
        let file = try fileSystem.openFile(at: segment.path, mode: .readOnly)
        let size = try file.size()
        let header = try segment.readHeader(from: file)
        let expectedChain = chain ?? (startsAtLogStart ? 0 : header.previousChain)
        if header.previousChain != expectedChain {
            throw SegmentLogError.brokenChain(file: segment.path, expected: expectedChain, found: header.previousChain)
        }
        guard header.firstPosition > lastPosition else {
            throw SegmentLogError.corruptSegmentHeader(
                file: segment.path, reason: "first position \(header.firstPosition) is not after the previous segment's last record \(lastPosition)")
        }
        segmentHeader = header
        chain = header.previousChain
        scanner = SegmentScanner(file: file, fileName: segment.path, fileSize: size, startOffset: SegmentHeader.byteCount)
    }

    private mutating func accept(_ frame: ScannedFrame) throws -> LogRecord? {
        let position = frame.header.position
        guard position > lastPosition, position >= segmentHeader!.firstPosition else {
            throw SegmentLogError.corruptFrame(
                file: scanner!.fileName, offset: frame.offset,
                reason: "position \(position) does not follow the previous record's \(lastPosition) (segment starts at \(segmentHeader!.firstPosition))")
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

    private mutating func handleInvalid(reason: String) throws {
        let scanner = scanner!
        guard segmentIndex == segments.count - 1 && !lastSegmentIsSealed else {
            throw SegmentLogError.corruptFrame(file: scanner.fileName, offset: scanner.offset,
                                               reason: reason + " (in a sealed segment, where no write was in progress)")
        }
        tornTail = try TornTail.inspect(file: scanner.file, fileName: segments[segmentIndex].name, path: scanner.fileName,
                                        fileSize: scanner.fileSize, offset: scanner.offset,
                                        lastPosition: lastPosition, reason: reason)
        try finishSegment(validBytes: scanner.offset)
    }

    private mutating func finishSegment(validBytes: Int) throws {
        let scanner = scanner!
        chain = segmentHeader!.chainAfter(frames: chain!)
        end = End(segment: segments[segmentIndex], header: segmentHeader!, validBytes: validBytes,
                  fileSize: scanner.fileSize, chain: chain!)
        try scanner.file.close()
        self.scanner = nil
        segmentIndex += 1
        if segmentIndex == segments.count { finished = true }
    }
}

/// A cursor holds an open file and a read buffer; use it from one task.
@available(*, unavailable)
extension LogCursor: Sendable {}
