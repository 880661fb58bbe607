import Glibc
import SegmentLog
import Synchronization

/// An in-memory ``FileSystem`` that models what a power loss keeps.
///
/// File writes and truncations are volatile until the file is synced; creations, renames and
/// removals are volatile until their directory is synced. ``crash(using:)`` keeps the synced
/// state plus, per file, a random prefix of the unsynced writes whose last one may be torn at any
/// byte, and forgets every unsynced directory change. Open files from before the crash fail
/// with EIO afterwards. Faults can be injected to make a write or sync fail.
///
/// ```swift
/// let disk = SimulatedFileSystem()
/// var configuration = SegmentLog.Configuration()
/// configuration.fileSystem = disk
/// let log = try SegmentLog.open(directory: "/log", configuration: configuration)
/// _ = try await log.append(type: 1, payload: [1, 2, 3])
/// var random = SeededRandom(seed: 42)
/// disk.crash(using: &random)          // the acknowledged record survives this
/// ```
public final class SimulatedFileSystem: FileSystem {
    /// A fault armed with ``inject(_:)``; each fires once.
    public enum Fault: Sendable, Equatable {
        /// The write after `after` more writes fails with EIO (0: the next one).
        case failWrite(after: Int)
        /// The file or directory sync after `after` more syncs fails with EIO.
        case failSync(after: Int)
        /// The power fails just before the operation after `after` more operations that change
        /// the disk (write, truncate, sync, create, rename, remove), which then fails with EIO;
        /// what survives is drawn from `seed`. To crash at every step of a procedure, run it
        /// once for each `after` from 0 until it completes.
        case crash(after: Int, seed: UInt64)
    }

    fileprivate enum Change {
        case write(offset: Int, bytes: [UInt8])
        case truncate(length: Int)
    }

    fileprivate struct Inode {
        var durable: [UInt8] = []
        var current: [UInt8] = []
        var unsynced: [Change] = []
    }

    fileprivate struct Directory {
        var durable: [String: Int] = [:]
        var current: [String: Int] = [:]
    }

    fileprivate struct Disk {
        var inodes: [Int: Inode] = [:]
        var directories: [String: Directory] = ["/": Directory()]
        var nextInode = 1
        var generation = 0
        var lockedPaths: Set<String> = []
        var faults: [Fault] = []
        var crashes = 0
    }

    fileprivate let disk = Mutex(Disk())

    /// An empty disk holding only the root directory.
    public init() {}


    /// The disk as the process starting now sees it: once the disk crashes, every operation
    /// through the returned file system fails with EIO, as a dead process does nothing more.
    /// Give each simulated process lifetime its own.
    public func processView() -> any FileSystem {
        SimulatedProcessView(disk: self, generation: generation)
    }

    var generation: Int { disk.withLock { $0.generation } }

    /// Power failures so far, by ``crash(using:)`` or an injected fault.
    public var crashCount: Int { disk.withLock { $0.crashes } }

    /// Arms a fault; each fires once.
    public func inject(_ fault: Fault) {
        disk.withLock { $0.faults.append(fault) }
    }

    /// Disarms every fault that has not fired yet, and returns them.
    public func disarmFaults() -> [Fault] {
        disk.withLock { disk in
            defer { disk.faults = [] }
            return disk.faults
        }
    }

    /// Simulates a power loss; see the type's description for what survives.
    public func crash(using random: inout some RandomNumberGenerator) {
        disk.withLock { Self.crash(&$0, using: &random) }
    }

    /// A copy of the disk as it is now, synced and unsynced state alike; files open on this
    /// one are not open on the copy.
    public func clone() -> SimulatedFileSystem {
        let copy = SimulatedFileSystem()
        let state = disk.withLock { $0 }
        copy.disk.withLock { disk in
            disk = state
            disk.generation += 1
            disk.lockedPaths = []
        }
        return copy
    }

    fileprivate static func crash(_ disk: inout Disk, using random: inout some RandomNumberGenerator) {
        do {
            for id in disk.inodes.keys.sorted() {
                var inode = disk.inodes[id]!
                var kept = inode.durable
                let applied = inode.unsynced.isEmpty ? 0 : Int.random(in: 0...inode.unsynced.count, using: &random)
                for (index, var change) in inode.unsynced.prefix(applied).enumerated() {
                    if index == applied - 1, Bool.random(using: &random), case .write(let offset, let bytes) = change {
                        let keptBytes = Int.random(in: 0..<max(1, bytes.count), using: &random)
                        change = .write(offset: offset, bytes: Array(bytes.prefix(keptBytes)))
                    }
                    Self.apply(change, to: &kept)
                }
                inode.durable = kept
                inode.current = kept
                inode.unsynced = []
                disk.inodes[id] = inode
            }
            for path in disk.directories.keys {
                disk.directories[path]!.current = disk.directories[path]!.durable
            }
            disk.generation += 1
            disk.lockedPaths = []
            disk.faults = []
            disk.crashes += 1
        }
    }

    /// Counts an operation that changes the disk; throws EIO after crashing the disk when an
    /// armed crash fault fires.
    fileprivate static func change(_ operation: String, _ path: String, in disk: inout Disk) throws(SegmentLogError) {
        var crashSeed: UInt64?
        disk.faults = disk.faults.compactMap { fault in
            guard case .crash(let after, let seed) = fault else { return fault }
            if after == 0 { crashSeed = seed; return nil }
            return .crash(after: after - 1, seed: seed)
        }
        guard let crashSeed else { return }
        var random = SeededRandom(seed: crashSeed)
        crash(&disk, using: &random)
        throw ioError(operation, path)
    }

    /// The bytes a file holds now, synced or not; nil when there is no such file.
    public func contents(of path: String) -> [UInt8]? {
        disk.withLock { disk in
            Self.lookup(path, in: disk).map { disk.inodes[$0]!.current }
        }
    }

    /// Replaces a file's contents, durably, as damage done behind the log's back.
    public func overwrite(_ path: String, with bytes: [UInt8]) {
        disk.withLock { disk in
            let id = Self.lookup(path, in: disk)!
            disk.inodes[id] = Inode(durable: bytes, current: bytes, unsynced: [])
        }
    }

    private static func apply(_ change: Change, to bytes: inout [UInt8]) {
        switch change {
        case .write(let offset, let written):
            if bytes.count < offset + written.count {
                bytes.append(contentsOf: repeatElement(0, count: offset + written.count - bytes.count))
            }
            bytes.replaceSubrange(offset..<offset + written.count, with: written)
        case .truncate(let length):
            if length < bytes.count { bytes.removeLast(bytes.count - length) }
            else { bytes.append(contentsOf: repeatElement(0, count: length - bytes.count)) }
        }
    }

    fileprivate static func split(_ path: String) -> (directory: String, name: String) {
        precondition(path.hasPrefix("/"), "simulated paths are absolute: \(path)")
        let slash = path.lastIndex(of: "/")!
        let directory = slash == path.startIndex ? "/" : String(path[..<slash])
        return (directory, String(path[path.index(after: slash)...]))
    }

    fileprivate static func lookup(_ path: String, in disk: Disk) -> Int? {
        let (directory, name) = split(path)
        return disk.directories[directory]?.current[name]
    }

    fileprivate static func ioError(_ operation: String, _ path: String, _ code: Int32 = EIO) -> SegmentLogError {
        .io(operation: operation, path: path, errno: code)
    }

    /// Counts down the armed faults of one kind; true when one fires now.
    fileprivate static func fires(_ isWrite: Bool, in disk: inout Disk) -> Bool {
        var fired = false
        disk.faults = disk.faults.compactMap { fault in
            switch fault {
            case .failWrite(let after) where isWrite:
                if after == 0 { fired = true; return nil }
                return .failWrite(after: after - 1)
            case .failSync(let after) where !isWrite:
                if after == 0 { fired = true; return nil }
                return .failSync(after: after - 1)
            default:
                return fault
            }
        }
        return fired
    }

    public func contentsOfDirectory(at path: String) throws -> [String] {
        try disk.withLock { disk in
            guard let directory = disk.directories[path] else { throw Self.ioError("opendir", path, ENOENT) }
            return directory.current.keys.sorted()
        }
    }

    public func directoryExists(at path: String) -> Bool {
        disk.withLock { $0.directories[path] != nil }
    }

    public func fileExists(at path: String) -> Bool {
        disk.withLock { Self.lookup(path, in: $0) != nil || $0.directories[path] != nil }
    }

    public func createDirectory(at path: String) throws {
        disk.withLock { disk in
            var prefix = ""
            for component in path.split(separator: "/") {
                prefix += "/" + component
                if disk.directories[prefix] == nil { disk.directories[prefix] = Directory() }
            }
        }
    }

    public func openFile(at path: String, mode: FileOpenMode) throws -> any OpenFile {
        try disk.withLock { disk in
            let (directory, name) = Self.split(path)
            guard disk.directories[directory] != nil else { throw Self.ioError("open", path, ENOENT) }
            let existing = disk.directories[directory]!.current[name]
            switch (mode, existing) {
            case (.createNew, .some): throw Self.ioError("open", path, EEXIST)
            case (.createNew, .none):
                try Self.change("open", path, in: &disk)
                let id = disk.nextInode
                disk.nextInode += 1
                disk.inodes[id] = Inode()
                disk.directories[directory]!.current[name] = id
                return SimulatedFile(fileSystem: self, inode: id, path: path, generation: disk.generation,
                                     writable: true)
            case (_, .none): throw Self.ioError("open", path, ENOENT)
            case (_, .some(let id)):
                return SimulatedFile(fileSystem: self, inode: id, path: path, generation: disk.generation,
                                     writable: mode == .readWrite)
            }
        }
    }

    public func rename(from source: String, to destination: String) throws {
        try disk.withLock { disk in
            let (sourceDirectory, sourceName) = Self.split(source)
            let (targetDirectory, targetName) = Self.split(destination)
            guard let id = disk.directories[sourceDirectory]?.current[sourceName],
                  disk.directories[targetDirectory] != nil else { throw Self.ioError("rename", source, ENOENT) }
            try Self.change("rename", source, in: &disk)
            disk.directories[sourceDirectory]!.current[sourceName] = nil
            disk.directories[targetDirectory]!.current[targetName] = id
        }
    }

    public func removeFile(at path: String) throws {
        try disk.withLock { disk in
            let (directory, name) = Self.split(path)
            guard disk.directories[directory]?.current[name] != nil else { throw Self.ioError("unlink", path, ENOENT) }
            try Self.change("unlink", path, in: &disk)
            disk.directories[directory]!.current[name] = nil
        }
    }

    public func synchronizeDirectory(at path: String) throws {
        try disk.withLock { disk in
            guard disk.directories[path] != nil else { throw Self.ioError("fsync", path, ENOENT) }
            try Self.change("fsync", path, in: &disk)
            if Self.fires(false, in: &disk) { throw Self.ioError("fsync", path) }
            disk.directories[path]!.durable = disk.directories[path]!.current
        }
    }

    public func lockFile(at path: String) throws -> (any OpenFile)? {
        let file = try? openFile(at: path, mode: .readWrite)
        let lockFile = try file ?? openFile(at: path, mode: .createNew)
        let acquired = disk.withLock { disk in disk.lockedPaths.insert(path).inserted }
        guard acquired else { return nil }
        return SimulatedLock(file: lockFile, release: { [weak self] in
            _ = self?.disk.withLock { $0.lockedPaths.remove(path) }
        })
    }

    fileprivate func withInode<T>(_ file: SimulatedFile, _ operation: String, changing: Bool = false,
                                  _ body: (inout Inode, inout Disk) throws -> T) throws -> T {
        try disk.withLock { disk in
            if changing && disk.generation == file.generation { try Self.change(operation, file.path, in: &disk) }
            // Taken out of the table while it changes, so its byte arrays are not copied.
            guard disk.generation == file.generation, var inode = disk.inodes.removeValue(forKey: file.inode) else {
                throw Self.ioError(operation, file.path)
            }
            defer { disk.inodes[file.inode] = inode }
            return try body(&inode, &disk)
        }
    }
}

/// A file opened on a ``SimulatedFileSystem``.
final class SimulatedFile: OpenFile {
    let fileSystem: SimulatedFileSystem
    let inode: Int
    let path: String
    let generation: Int
    let writable: Bool

    init(fileSystem: SimulatedFileSystem, inode: Int, path: String, generation: Int, writable: Bool) {
        self.fileSystem = fileSystem
        self.inode = inode
        self.path = path
        self.generation = generation
        self.writable = writable
    }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws -> Int {
        try fileSystem.withInode(self, "pread") { inode, _ in
            guard offset < inode.current.count else { return 0 }
            let count = min(buffer.count, inode.current.count - offset)
            inode.current.withUnsafeBytes { source in
                buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[offset..<offset + count]))
            }
            return count
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        precondition(writable, "write to a read-only simulated file \(path)")
        let written = [UInt8](bytes)
        try fileSystem.withInode(self, "pwrite", changing: true) { inode, disk in
            if SimulatedFileSystem.fires(true, in: &disk) { throw SimulatedFileSystem.ioError("pwrite", path) }
            if inode.current.count < offset + written.count {
                inode.current.append(contentsOf: repeatElement(0, count: offset + written.count - inode.current.count))
            }
            inode.current.replaceSubrange(offset..<offset + written.count, with: written)
            inode.unsynced.append(.write(offset: offset, bytes: written))
        }
    }

    func size() throws -> Int {
        try fileSystem.withInode(self, "fstat") { inode, _ in inode.current.count }
    }

    func truncate(to length: Int) throws {
        try fileSystem.withInode(self, "ftruncate", changing: true) { inode, _ in
            if length < inode.current.count { inode.current.removeLast(inode.current.count - length) }
            else { inode.current.append(contentsOf: repeatElement(0, count: length - inode.current.count)) }
            inode.unsynced.append(.truncate(length: length))
        }
    }

    func preallocate(upTo length: Int) throws {
        if try size() < length { try truncate(to: length) }
    }

    func synchronizeData() throws {
        try fileSystem.withInode(self, "fdatasync", changing: true) { inode, disk in
            if SimulatedFileSystem.fires(false, in: &disk) { throw SimulatedFileSystem.ioError("fdatasync", path) }
            inode.durable = inode.current
            inode.unsynced = []
        }
    }

    func close() throws {}
}

/// The open lock file of a ``SimulatedFileSystem``; closing it releases the lock.
final class SimulatedLock: OpenFile {
    let file: any OpenFile
    let release: @Sendable () -> Void

    init(file: any OpenFile, release: @escaping @Sendable () -> Void) {
        self.file = file
        self.release = release
    }

    var path: String { file.path }
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws -> Int { try file.read(into: buffer, at: offset) }
    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws { try file.write(bytes, at: offset) }
    func size() throws -> Int { try file.size() }
    func truncate(to length: Int) throws { try file.truncate(to: length) }
    func preallocate(upTo length: Int) throws { try file.preallocate(upTo: length) }
    func synchronizeData() throws { try file.synchronizeData() }
    func close() throws { release() }
}
