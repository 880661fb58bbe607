/// The file operations SegmentLog performs.
///
/// ``PosixFileSystem`` is the real one. `SegmentLogTesting.SimulatedFileSystem` keeps files in
/// memory and, at a simulated crash, loses what was not synced, so the same log code can be
/// crash-tested deterministically. Implementations throw ``SegmentLogError/io(operation:path:errno:)``.
public protocol FileSystem: Sendable {
    /// The names (not paths) of the entries in a directory.
    func contentsOfDirectory(at path: String) throws -> [String]
    /// Whether a directory exists at `path`.
    func directoryExists(at path: String) -> Bool
    /// Whether a file (of any kind) exists at `path`.
    func fileExists(at path: String) -> Bool
    /// Creates a directory (and its missing parents) if it does not exist.
    func createDirectory(at path: String) throws
    /// Opens a file.
    func openFile(at path: String, mode: FileOpenMode) throws -> any OpenFile
    /// Atomically renames a file, replacing any file at `destination`.
    func rename(from source: String, to destination: String) throws
    /// Removes a file.
    func removeFile(at path: String) throws
    /// Makes the directory's entries (creations, renames, removals) durable (`fsync` on it).
    func synchronizeDirectory(at path: String) throws
    /// Takes an exclusive advisory lock on the file at `path`, creating it; `nil` when another
    /// process holds it. The lock lasts until the returned file is closed.
    func lockFile(at path: String) throws -> (any OpenFile)?
    /// The bytes an unprivileged writer may still use on the device holding `path`
    /// (`statvfs`'s `f_bavail × f_frsize`).
    func availableBytes(at path: String) throws -> Int
}

extension FileSystem {
    /// A device without a size (a simulated disk) never runs out.
    public func availableBytes(at path: String) throws -> Int { .max }
}

/// How ``FileSystem/openFile(at:mode:)`` opens a file.
public enum FileOpenMode: Sendable {
    /// Read only; the file must exist.
    case readOnly
    /// Read and write; the file must exist.
    case readWrite
    /// Read and write a new, empty file; fails if one exists.
    case createNew
}
