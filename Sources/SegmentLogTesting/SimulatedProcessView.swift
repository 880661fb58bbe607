import Glibc
import SegmentLog

/// A ``SimulatedFileSystem`` as one process lifetime sees it: after the next crash, every
/// operation through it fails with EIO, because a process that died does nothing more, not
/// even the work a background thread of it had started (a compaction, say).
struct SimulatedProcessView: FileSystem {
    let disk: SimulatedFileSystem
    let generation: Int

    private func alive(_ operation: String, _ path: String) throws {
        guard disk.generation == generation else {
            throw SegmentLogError.io(operation: operation + " (after the simulated crash)", path: path, errno: EIO)
        }
    }

    func contentsOfDirectory(at path: String) throws -> [String] {
        try alive("opendir", path)
        return try disk.contentsOfDirectory(at: path)
    }

    func directoryExists(at path: String) -> Bool { disk.directoryExists(at: path) }
    func fileExists(at path: String) -> Bool { disk.fileExists(at: path) }

    func createDirectory(at path: String) throws {
        try alive("mkdir", path)
        try disk.createDirectory(at: path)
    }

    func openFile(at path: String, mode: FileOpenMode) throws -> any OpenFile {
        try alive("open", path)
        return try disk.openFile(at: path, mode: mode)
    }

    func rename(from source: String, to destination: String) throws {
        try alive("rename", source)
        try disk.rename(from: source, to: destination)
    }

    func removeFile(at path: String) throws {
        try alive("unlink", path)
        try disk.removeFile(at: path)
    }

    func synchronizeDirectory(at path: String) throws {
        try alive("fsync", path)
        try disk.synchronizeDirectory(at: path)
    }

    func lockFile(at path: String) throws -> (any OpenFile)? {
        try alive("flock", path)
        return try disk.lockFile(at: path)
    }
}
