/// A segment file found in a log directory.
struct SegmentFile: Sendable, Equatable {
    let segmentId: UInt64
    let name: String
    let path: String

    /// The segments in `directory`, in log order, without those a compacted segment replaces.
    static func list(in directory: String, fileSystem: any FileSystem) throws -> [SegmentFile] {
        try listing(in: directory, fileSystem: fileSystem).live
    }

    /// The live segments of `directory`, and those a compacted segment replaces (what a crash
    /// between compaction's rename and its deletions leaves; ignored, and removed by a writer).
    /// Other files (temporary, lock, `.broken` copies, non-canonical names) are skipped.
    static func listing(in directory: String, fileSystem: any FileSystem) throws -> (live: [SegmentFile], replaced: [SegmentFile]) {
        guard fileSystem.directoryExists(at: directory) else {
            throw SegmentLogError.notALogDirectory(path: directory, reason: "no such directory")
        }
        let segments = try fileSystem.contentsOfDirectory(at: directory).compactMap { name in
            SegmentFileName.segmentId(of: name).map {
                SegmentFile(segmentId: $0, name: name, path: directory + "/" + name)
            }
        }.sorted { $0.segmentId < $1.segmentId }
        // A header that cannot be read replaces nothing; reading the segment reports it.
        let replacedRanges = segments.compactMap { segment -> ClosedRange<UInt64>? in
            guard let first = (try? segment.readHeader(fileSystem: fileSystem))?.replacement?.firstReplacedSegmentId,
                  first < segment.segmentId else { return nil }
            return first...(segment.segmentId - 1)
        }
        let isReplaced = { (segment: SegmentFile) in replacedRanges.contains { $0.contains(segment.segmentId) } }
        return (segments.filter { !isReplaced($0) }, segments.filter(isReplaced))
    }

    /// Reads and checks this segment's header from `file`, opened on it.
    func readHeader(from file: any OpenFile) throws -> SegmentHeader {
        let header = try SegmentHeader.decode(try file.read(count: SegmentHeader.byteCount, at: 0), file: path)
        guard header.segmentId == segmentId else {
            throw SegmentLogError.corruptSegmentHeader(
                file: path, reason: "header says segment id \(header.segmentId) but the file name says \(segmentId)")
        }
        return header
    }

    /// The file's size in bytes, as the file system reports it now.
    func fileBytes(fileSystem: any FileSystem) throws -> Int {
        let file = try fileSystem.openFile(at: path, mode: .readOnly)
        defer { try? file.close() }
        return try file.size()
    }

    /// Opens the segment just to read and check its header.
    func readHeader(fileSystem: any FileSystem) throws -> SegmentHeader {
        let file = try fileSystem.openFile(at: path, mode: .readOnly)
        defer { try? file.close() }
        return try readHeader(from: file)
    }
}
