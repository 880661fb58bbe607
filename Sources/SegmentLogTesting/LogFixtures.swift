import SegmentLog

/// The small log directories kept in `Fixtures/segmentlog/`, written by this code so a format
/// change shows up as a byte difference. `tools/make-fixtures` regenerates them.
public enum LogFixtures {
    /// Records in the clean fixture.
    public static let recordCount = 30
    /// Segment size the fixtures are written with.
    public static let segmentSizeBytes = 512

    /// The payload of the record at `position` (from 1) in every fixture.
    public static func payload(at position: Int) -> [UInt8] {
        let text = "fixture record \(position): " + String(repeating: "abc", count: position % 5 * 20)
        return Array(text.utf8)
    }

    /// How many bytes the `torn-tail` fixture adds after the last frame: a copy of the first
    /// frame's start, which cannot pass as a frame there.
    public static let tornTailBytes = 30

    /// The fixture directories by name, in the order they are written.
    public static let names = ["clean", "torn-tail", "corrupt-middle", "missing-segment"]

    /// Writes every fixture under `root` (which must not hold them yet).
    public static func write(to root: String, fileSystem: any FileSystem = PosixFileSystem()) async throws {
        for name in names {
            let directory = root + "/" + name
            try await writeClean(to: directory, fileSystem: fileSystem)
            try damage(directory, as: name, fileSystem: fileSystem)
        }
    }

    /// Damages a clean log in `directory` as the fixture `name` says: `torn-tail` (half a frame
    /// after the last one), `corrupt-middle` (a bit flipped in the second segment's first
    /// payload), `missing-segment` (the second segment removed); `clean` stays as it is.
    public static func damage(_ directory: String, as name: String, fileSystem: any FileSystem) throws {
        let segments = try LogReader(directory: directory, fileSystem: fileSystem).segmentFileNames
        switch name {
        case "torn-tail":
            let last = directory + "/" + segments.last!
            let bytes = try read(last, fileSystem)
            let firstFrame = SegmentHeader.byteCount
            try replace(last, with: bytes + Array(bytes[firstFrame..<firstFrame + tornTailBytes]), fileSystem)
        case "corrupt-middle":
            let second = directory + "/" + segments[1]
            var bytes = try read(second, fileSystem)
            bytes[SegmentHeader.byteCount + FrameHeader.byteCount + 3] ^= 0x01
            try replace(second, with: bytes, fileSystem)
        case "missing-segment":
            try fileSystem.removeFile(at: directory + "/" + segments[1])
        default:
            break
        }
    }

    private static func writeClean(to directory: String, fileSystem: any FileSystem) async throws {
        var configuration = SegmentLog.Configuration()
        configuration.fileSystem = fileSystem
        configuration.segmentSizeBytes = segmentSizeBytes
        configuration.preallocation = .none
        // Every record compressed whatever the timing, as the fixtures were first written.
        configuration.compression = .lz4(thresholdBytes: 128)
        let log = try SegmentLog.open(directory: directory, configuration: configuration)
        for position in 1...recordCount {
            _ = try await log.append(type: UInt8(position % 4), payload: payload(at: position))
        }
        try await log.close()
        // The lock file holds a process id: not reproducible, and not part of the log.
        try fileSystem.removeFile(at: directory + "/LOCK")
    }

    private static func read(_ path: String, _ fileSystem: any FileSystem) throws -> [UInt8] {
        let file = try fileSystem.openFile(at: path, mode: .readOnly)
        defer { try? file.close() }
        var bytes = [UInt8](repeating: 0, count: try file.size())
        let count = try bytes.withUnsafeMutableBytes { try file.read(into: $0, at: 0) }
        precondition(count == bytes.count, "short read of \(path)")
        return bytes
    }

    private static func replace(_ path: String, with bytes: [UInt8], _ fileSystem: any FileSystem) throws {
        let file = try fileSystem.openFile(at: path, mode: .readWrite)
        defer { try? file.close() }
        try file.truncate(to: 0)
        try bytes.withUnsafeBytes { try file.write($0, at: 0) }
        try file.synchronizeData()
    }
}
