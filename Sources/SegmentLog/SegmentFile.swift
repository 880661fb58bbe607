/// A segment file found in a log directory.
struct SegmentFile: Sendable, Equatable {
    let segmentId: UInt64
    let name: String
    let path: String

    /// The segments in `directory`, in log order. Other files (temporary, lock, `.broken`
    /// copies, names not in the canonical form) are skipped.
    static func list(in directory: String, fileSystem: any FileSystem) throws -> [SegmentFile] {
        guard fileSystem.directoryExists(at: directory) else {
            throw SegmentLogError.notALogDirectory(path: directory, reason: "no such directory")
        }
        let segments = try fileSystem.contentsOfDirectory(at: directory).compactMap { name in
            SegmentFileName.segmentId(of: name).map {
                SegmentFile(segmentId: $0, name: name, path: directory + "/" + name)
            }
        }.sorted { $0.segmentId < $1.segmentId }
        for (earlier, later) in zip(segments, segments.dropFirst()) {
            assert(earlier.segmentId < later.segmentId, "segment ids are unique file names")
        }
        return segments
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

    /// Opens the segment just to read and check its header.
    func readHeader(fileSystem: any FileSystem) throws -> SegmentHeader {
        let file = try fileSystem.openFile(at: path, mode: .readOnly)
        defer { try? file.close() }
        return try readHeader(from: file)
    }
}
