extension SegmentLog {
    /// Cuts damage off the end of the last segment, keeping a `.broken` copy of it.
    ///
    /// Opening a log already cuts a torn tail; this also cuts damage that valid records follow
    /// (which open refuses, since it cannot be a torn write), losing those records. Damage in any
    /// other segment is refused: cutting there would drop sealed, acknowledged history.
    /// Returns nil when there is nothing to cut. A real run takes the directory's lock, so it refuses to run beside a live writer; a
    /// dry run takes no lock and writes nothing.
    ///
    /// ```swift
    /// if let report = try SegmentLog.repair(directory: path, dryRun: true) { print(report) }
    /// ```
    public static func repair(directory: String, fileSystem: any FileSystem = PosixFileSystem(),
                              dryRun: Bool) throws -> RepairReport? {
        let segments = try SegmentFile.list(in: directory, fileSystem: fileSystem)
        // A writer must not append while its segment is cut; a dry run writes nothing.
        let lock = dryRun ? nil : try DirectoryLock.acquire(directory: directory, fileSystem: fileSystem)
        defer { try? lock?.close() }
        guard let last = segments.last else { return nil }
        guard let (offset, reason) = try firstDamage(in: segments, fileSystem: fileSystem) else { return nil }
        let file = try fileSystem.openFile(at: last.path, mode: dryRun ? .readOnly : .readWrite)
        defer { try? file.close() }
        let size = try file.size()
        precondition(offset >= SegmentHeader.byteCount && offset <= size)
        var copyName: String?
        if !dryRun {
            copyName = try keepBrokenCopy(of: last, contents: try file.read(count: size, at: 0), fileSystem: fileSystem,
                                          directory: directory)
            // Cut only after the copy is durable, so the removed bytes survive somewhere.
            try file.truncate(to: offset)
            // The cut must be durable before a writer appends after it.
            try file.synchronizeData()
        }
        return RepairReport(segmentFileName: last.name, offset: offset, removedBytes: size - offset,
                            reason: reason, brokenCopyFileName: copyName)
    }

    /// The offset in the last segment where valid records end, if anything follows them.
    private static func firstDamage(in segments: [SegmentFile], fileSystem: any FileSystem) throws -> (Int, String)? {
        // From the log's start, so a missing first segment is the broken chain open reports.
        var cursor = LogCursor(segments: segments, fileSystem: fileSystem, from: .start, through: nil, startSegmentIndex: 0,
                               startsAtLogStart: true)
        do {
            while try cursor.next() != nil {}
        } catch let error as SegmentLogError {
            // The recovery table says where a cut may go; any other error is refused.
            if let refusal = cursor.refusal, refusal.action == .refuseRepairable,
               case .corruptFrame(let file, let offset, let reason) = error {
                precondition(file == segments.last!.path && offset == refusal.offset)
                return (offset, reason)
            }
            throw SegmentLogError.repairRefused(file: LogProblem(error, readingFile: segments.last!.path).file, reason: "\(error)")
        }
        // A torn tail (the table's cutTornTail) is cut too.
        return cursor.tornTail.map { ($0.offset, $0.reason) }
    }

    private static func keepBrokenCopy(of segment: SegmentFile, contents: [UInt8], fileSystem: any FileSystem,
                                       directory: String) throws -> String {
        var name = segment.name + SegmentFileName.brokenSuffix
        var attempt = 1
        while fileSystem.fileExists(at: directory + "/" + name) {
            attempt += 1
            name = segment.name + SegmentFileName.brokenSuffix + ".\(attempt)"
        }
        let copy = try fileSystem.openFile(at: directory + "/" + name, mode: .createNew)
        defer { try? copy.close() }
        try copy.write(contents, at: 0)
        // The copy's bytes must be durable before the original is cut.
        try copy.synchronizeData()
        // And so must its name.
        try fileSystem.synchronizeDirectory(at: directory)
        return name
    }
}
