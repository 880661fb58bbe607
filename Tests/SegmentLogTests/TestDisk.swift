import Foundation
import SegmentLog
import SegmentLogTesting

/// Which file system a test runs on; SegmentLog tests run on both.
enum TestDisk: String, CaseIterable, CustomStringConvertible, Sendable {
    case real
    case simulated

    var description: String { rawValue }
}

/// A fresh, empty log directory on a real or simulated disk.
struct TestDirectory: Sendable {
    let path: String
    let fileSystem: any FileSystem
    let simulated: SimulatedFileSystem?

    init(_ disk: TestDisk) {
        switch disk {
        case .real:
            let base = FileManager.default.temporaryDirectory.path + "/segmentlog-tests"
            try! FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
            path = base + "/" + UUID().uuidString
            fileSystem = PosixFileSystem()
            simulated = nil
        case .simulated:
            let disk = SimulatedFileSystem()
            path = "/log"
            fileSystem = disk
            simulated = disk
        }
    }

    func configuration(segmentSizeBytes: Int = 4096, syncPolicy: SyncPolicy = .always) -> SegmentLog.Configuration {
        var configuration = SegmentLog.Configuration()
        configuration.fileSystem = fileSystem
        configuration.segmentSizeBytes = segmentSizeBytes
        configuration.syncPolicy = syncPolicy
        // Compressed frames in every log the tests write, not only in appends that meet a sync.
        configuration.compression = .lz4(thresholdBytes: 128)
        return configuration
    }

    func open(segmentSizeBytes: Int = 4096, syncPolicy: SyncPolicy = .always) throws -> SegmentLog {
        try SegmentLog.open(directory: path, configuration: configuration(segmentSizeBytes: segmentSizeBytes,
                                                                           syncPolicy: syncPolicy))
    }

    func readAll() throws -> [LogRecord] {
        var cursor = try LogReader(directory: path, fileSystem: fileSystem).records()
        var records: [LogRecord] = []
        while let record = try cursor.next() { records.append(record) }
        return records
    }

    func segmentPaths() throws -> [String] {
        try LogReader(directory: path, fileSystem: fileSystem).segmentFileNames.map { path + "/" + $0 }
    }

    func bytes(of file: String) throws -> [UInt8] {
        let handle = try fileSystem.openFile(at: file, mode: .readOnly)
        defer { try? handle.close() }
        var bytes = [UInt8](repeating: 0, count: try handle.size())
        var filled = 0
        try bytes.withUnsafeMutableBytes { buffer in
            while filled < buffer.count {
                let n = try handle.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]), at: filled)
                precondition(n > 0)
                filled += n
            }
        }
        return bytes
    }

    /// Replaces a file's contents as damage done outside the log.
    func replace(_ file: String, with bytes: [UInt8]) throws {
        if let simulated {
            simulated.overwrite(file, with: bytes)
            return
        }
        try Data(bytes).write(to: URL(fileURLWithPath: file))
    }

    func remove(_ file: String) throws {
        try fileSystem.removeFile(at: file)
    }
}

/// Payloads of the given size: incompressible bytes, or text that compresses well.
func makePayload(size: Int, compressible: Bool, using random: inout SeededRandom) -> [UInt8] {
    if compressible {
        let text = Array("{\"type\":\"m.room.message\",\"body\":\"hello world\"}".utf8)
        return (0..<size).map { text[$0 % text.count] }
    }
    return (0..<size).map { _ in UInt8.random(in: 0...255, using: &random) }
}
