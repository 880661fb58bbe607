/// Read-only access to a log directory. It takes no lock, writes nothing, and can run beside a
/// live writer: the last segment's unfinished end reads as the end of the log.
///
/// ```swift
/// let reader = try LogReader(directory: "/var/lib/asched")
/// var cursor = try reader.records(from: LogPosition(rawValue: 1_000))
/// while let record = try cursor.next() { handle(record) }
/// ```
public struct LogReader: Sendable {
    /// The log directory.
    public let directory: String
    private let fileSystem: any FileSystem
    private let segments: [SegmentFile]
    private let positionIndex: PositionIndex
    /// Where a replay starts (the `FLOOR` file; position 1 without one): records below it are
    /// kept only to be read by position, and folding them gives no valid state.
    public let replayFloor: LogPosition

    /// Opens `directory` for reading; throws when it does not exist or its `FLOOR` file is damaged.
    public init(directory: String, fileSystem: any FileSystem = PosixFileSystem()) throws {
        self.directory = directory
        self.fileSystem = fileSystem
        self.segments = try SegmentFile.list(in: directory, fileSystem: fileSystem)
        self.positionIndex = PositionIndex(directory: directory, fileSystem: fileSystem)
        self.replayFloor = try ReplayFloor.read(directory: directory, fileSystem: fileSystem) ?? ReplayFloor.absent
    }

    /// The record at `position`, as ``SegmentLog/record(at:)`` reads it; throws
    /// ``SegmentLogError/noRecord(position:reason:)`` when the log holds none there.
    public func record(at position: LogPosition) throws -> LogRecord {
        guard position.rawValue >= 1 else {
            throw SegmentLogError.noRecord(position: position, reason: "positions start at 1")
        }
        return try positionIndex.records(at: [position])[0]
    }

    /// The records at `positions` (ascending, distinct), as ``SegmentLog/records(at:)`` reads them.
    public func records(at positions: [LogPosition]) throws -> [LogRecord] {
        guard let first = positions.first else { return [] }
        guard first.rawValue >= 1 else {
            throw SegmentLogError.noRecord(position: first, reason: "positions start at 1")
        }
        return try positionIndex.records(at: positions)
    }

    /// The names of the segment files, in log order.
    public var segmentFileNames: [String] { segments.map(\.name) }

    /// A cursor over the records at or after `position`, up to `upperBound` when given.
    /// Reading from the start also checks the chain across every segment.
    public func records(from position: LogPosition = .start, through upperBound: LogPosition? = nil) throws -> LogCursor {
        let start = try segmentIndex(containing: position)
        return LogCursor(segments: segments, fileSystem: fileSystem, from: position, through: upperBound,
                         startSegmentIndex: start, startsAtLogStart: start == 0)
    }

    /// The index of the last segment whose first position is at or before `position`.
    private func segmentIndex(containing position: LogPosition) throws -> Int {
        var index = 0
        for (candidate, segment) in segments.enumerated().dropFirst() {
            let header = try segment.readHeader(fileSystem: fileSystem)
            if header.firstPosition > position { break }
            index = candidate
        }
        return index
    }
}
