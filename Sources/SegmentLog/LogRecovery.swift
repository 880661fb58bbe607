/// Reads a log directory to where a writer resumes: every segment checked, a torn tail of the
/// last one cut (and reported), an empty directory given its first segment.
struct LogRecovery {
    let segment: SegmentFile
    let writeOffset: Int
    let chain: UInt32
    let lastPosition: LogPosition
    let nextPosition: LogPosition
    let tornTail: TornTail?
    /// Bytes of the segments before ``segment``, all sealed.
    let sealedBytes: Int

    /// Passes every kept record at or after `floor` to `replay`, in order, as the check reads it;
    /// records below it are checked (checksum, order, chain) but not decompressed.
    static func resume(directory: String, fileSystem: any FileSystem, from floor: LogPosition,
                       replay: (LogRecord) throws -> Void) throws -> LogRecovery {
        let segments = try SegmentFile.list(in: directory, fileSystem: fileSystem)
        guard !segments.isEmpty else {
            return try start(SegmentHeader(segmentId: 1, firstPosition: LogPosition(rawValue: 1), previousChain: 0),
                             after: .start, sealedBytes: 0, directory: directory, fileSystem: fileSystem)
        }
        try checkHeaders(of: segments, fileSystem: fileSystem)
        var cursor = LogCursor(segments: segments, fileSystem: fileSystem, from: floor, through: nil,
                               startSegmentIndex: 0, startsAtLogStart: true)
        while let record = try cursor.next() {
            assert(record.position >= floor)
            try replay(record)
        }
        // The cursor's, not the last record replayed: a floor beyond the log replays none.
        let lastPosition = cursor.lastPosition
        let end = cursor.end!
        assert(end.segment == segments.last!)
        assert(end.validBytes <= end.fileSize)
        // The table's cutTornTail: the only damage a writer's open removes.
        if cursor.tornTail != nil {
            let file = try fileSystem.openFile(at: end.segment.path, mode: .readWrite)
            defer { try? file.close() }
            // Cut the torn bytes so later appends cannot be followed by stale fragments.
            try file.truncate(to: end.validBytes)
            // The cut must be durable before new records are written after it.
            try file.synchronizeData()
        }
        let next = lastPosition == .start ? end.header.firstPosition : max(lastPosition.next, end.header.firstPosition)
        // Sealed segments end exactly at their last frame, so their file size, as the cursor found
        // it when it opened them, is their size.
        let sealedBytes = cursor.bytesOfSegmentsRead - end.fileSize
        assert(sealedBytes >= 0)
        if end.header.replacement != nil {
            // A compacted segment's chain ends at the value it stands in for, so nothing may be
            // appended to it: continue in a new segment.
            return try start(SegmentHeader(segmentId: end.segment.segmentId + 1, firstPosition: next, previousChain: end.chain),
                             after: lastPosition, sealedBytes: sealedBytes + end.validBytes,
                             directory: directory, fileSystem: fileSystem)
        }
        return LogRecovery(segment: end.segment, writeOffset: end.validBytes, chain: end.chain,
                           lastPosition: lastPosition, nextPosition: next, tornTail: cursor.tornTail, sealedBytes: sealedBytes)
    }

    /// Checks every segment's header before any frame is read, so a duplicated or misnamed
    /// segment is reported as such rather than as damage in the segment before it. Header damage
    /// and segments out of order are refused at every place in ``RecoveryDecision``'s table.
    private static func checkHeaders(of segments: [SegmentFile], fileSystem: any FileSystem) throws {
        for damage in [LogDamage.badSegmentHeader, .unknownFormatVersion, .segmentOutOfOrder] {
            assert(DamagePlace.allCases.allSatisfy { RecoveryDecision.action(for: damage, at: $0) == .refuse })
        }
        var previous: SegmentHeader?
        for segment in segments {
            let header = try segment.readHeader(fileSystem: fileSystem)
            if let previous, header.firstPosition <= previous.firstPosition {
                throw SegmentLogError.corruptSegmentHeader(
                    file: segment.path,
                    reason: "first position \(header.firstPosition) is not after the previous segment's \(previous.firstPosition)")
            }
            previous = header
        }
    }

    /// Creates the segment `header` describes and resumes there.
    private static func start(_ header: SegmentHeader, after lastPosition: LogPosition, sealedBytes: Int,
                              directory: String, fileSystem: any FileSystem) throws -> LogRecovery {
        precondition(sealedBytes >= 0)
        let file = try SegmentWriter.createSegment(fileSystem: fileSystem, directory: directory, header: header,
                                                   prepared: nil, preallocateBytes: nil)
        try file.close()
        let name = SegmentFileName.name(for: header.segmentId)
        return LogRecovery(segment: SegmentFile(segmentId: header.segmentId, name: name, path: directory + "/" + name),
                           writeOffset: SegmentHeader.byteCount, chain: header.previousChain, lastPosition: lastPosition,
                           nextPosition: header.firstPosition, tornTail: nil, sealedBytes: sealedBytes)
    }
}
