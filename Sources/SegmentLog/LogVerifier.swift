/// Checks a whole log without stopping at the first problem: each segment is read on its own
/// (every frame's checksum, position order, decompression), then segments are checked against
/// each other (chain, positions). Read-only; runs beside a live writer.
///
/// ```swift
/// let report = try LogVerifier(directory: path).run { record in
///     // every readable record, in log order
/// }
/// for problem in report.problems { print(problem) }   // "error: …/0000000000000002.seg at offset 40: …"
/// ```
package struct LogVerifier: Sendable {
    /// What a run found.
    package struct Report: Sendable {
        /// Every segment, in log order.
        package internal(set) var segments: [SegmentSummary] = []
        /// Every problem, in the order found.
        package internal(set) var problems: [LogProblem] = []
        /// Whether any problem is an error (not just a torn tail).
        package var hasErrors: Bool { problems.contains { $0.severity == .error } }
    }

    private let directory: String
    private let fileSystem: any FileSystem
    private let segments: [SegmentFile]

    /// Lists the segments of `directory`; throws when it is not a directory or holds none.
    package init(directory: String, fileSystem: any FileSystem = PosixFileSystem()) throws {
        self.directory = directory
        self.fileSystem = fileSystem
        segments = try SegmentFile.list(in: directory, fileSystem: fileSystem)
        guard !segments.isEmpty else {
            throw SegmentLogError.notALogDirectory(path: directory, reason: "it holds no segment files (*.seg)")
        }
    }

    /// Reads every segment, calling `onRecord` for each readable record in log order.
    package func run(onRecord: (LogRecord) throws -> Void) throws -> Report {
        var report = Report()
        // The log's first segment continues from chain 0, so a deleted first segment shows.
        var previous: (chain: UInt32, last: LogPosition)? = (0, .start)
        var lastPosition = LogPosition.start
        for (index, segment) in segments.enumerated() {
            var summary = SegmentSummary(fileName: segment.name, segmentId: segment.segmentId,
                                         isLast: index == segments.count - 1)
            summary.fileBytes = (try? segment.fileBytes(fileSystem: fileSystem)) ?? 0
            previous = try verify(segment, sealed: !summary.isLast, after: previous, lastPosition: &lastPosition,
                                  summary: &summary, report: &report, onRecord: onRecord)
            report.segments.append(summary)
        }
        return report
    }

    /// Reads one segment; returns its end chain and last position, or nil when it is damaged.
    private func verify(_ segment: SegmentFile, sealed: Bool, after previous: (chain: UInt32, last: LogPosition)?,
                        lastPosition: inout LogPosition, summary: inout SegmentSummary, report: inout Report,
                        onRecord: (LogRecord) throws -> Void) throws -> (chain: UInt32, last: LogPosition)? {
        var cursor = LogCursor(segments: [segment], fileSystem: fileSystem, from: .start, through: nil,
                               startSegmentIndex: 0, lastSegmentIsSealed: sealed)
        do {
            let header = try segment.readHeader(fileSystem: fileSystem)
            if let previous {
                summary.chainVerified = header.previousChain == previous.chain
                if header.previousChain != previous.chain {
                    report.problems.append(LogProblem(SegmentLogError.brokenChain(
                        file: segment.path, expected: previous.chain, found: header.previousChain), readingFile: segment.path))
                }
            }
            if header.firstPosition <= lastPosition {
                report.problems.append(LogProblem(
                    severity: .error, file: segment.path, offset: SegmentHeader.firstPositionOffset,
                    message: "first position: expected after \(lastPosition), found \(header.firstPosition)"))
            }
            while let record = try cursor.next() {
                if record.position <= lastPosition {
                    report.problems.append(LogProblem(
                        severity: .error, file: segment.path, offset: record.location.offset,
                        message: "position: expected after \(lastPosition), found \(record.position)"))
                }
                lastPosition = max(lastPosition, record.position)
                summary.count(record)
                try onRecord(record)
            }
        } catch let error as SegmentLogError {
            report.problems.append(LogProblem(error, readingFile: segment.path))
            return nil
        }
        if let tail = cursor.tornTail {
            report.problems.append(LogProblem(severity: .warning, file: segment.path, offset: tail.offset,
                                              message: "torn tail: \(tail.discardedBytes) bytes after the last record "
                                                  + "(\(tail.reason)); opening the log cuts them"))
        }
        return cursor.end.map { ($0.chain, lastPosition) }
    }
}
