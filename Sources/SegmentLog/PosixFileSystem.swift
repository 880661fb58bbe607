import Glibc

/// The real file system, through POSIX calls (`pwrite`, `fdatasync`, `rename`, `flock`).
public struct PosixFileSystem: FileSystem {
    /// Creates the real file system.
    public init() {}

    /// See ``FileSystem/contentsOfDirectory(at:)``.
    public func contentsOfDirectory(at path: String) throws -> [String] {
        guard let dir = opendir(path) else {
            throw SegmentLogError.io(operation: "opendir", path: path, errno: errno)
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// See ``FileSystem/directoryExists(at:)``.
    public func directoryExists(at path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// See ``FileSystem/fileExists(at:)``.
    public func fileExists(at path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// See ``FileSystem/createDirectory(at:)``.
    public func createDirectory(at path: String) throws {
        if directoryExists(at: path) { return }
        let parent = parentDirectory(of: path)
        if parent != path && !directoryExists(at: parent) { try createDirectory(at: parent) }
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw SegmentLogError.io(operation: "mkdir", path: path, errno: errno)
        }
        // The new directory's entry must survive a crash, or the whole log vanishes with it.
        try synchronizeDirectory(at: parent)
    }

    /// See ``FileSystem/openFile(at:mode:)``.
    public func openFile(at path: String, mode: FileOpenMode) throws -> any OpenFile {
        let flags: Int32
        switch mode {
        case .readOnly: flags = O_RDONLY
        case .readWrite: flags = O_RDWR
        case .createNew: flags = O_RDWR | O_CREAT | O_EXCL
        }
        return PosixFile(descriptor: try SystemCall.open(path, flags), path: path)
    }

    /// See ``FileSystem/rename(from:to:)``.
    public func rename(from source: String, to destination: String) throws {
        if Glibc.rename(source, destination) != 0 {
            throw SegmentLogError.io(operation: "rename to \(destination)", path: source, errno: errno)
        }
    }

    /// See ``FileSystem/removeFile(at:)``.
    public func removeFile(at path: String) throws {
        if unlink(path) != 0 {
            throw SegmentLogError.io(operation: "unlink", path: path, errno: errno)
        }
    }

    /// See ``FileSystem/synchronizeDirectory(at:)``.
    public func synchronizeDirectory(at path: String) throws {
        let fd = try SystemCall.open(path, O_RDONLY | O_DIRECTORY)
        defer { Glibc.close(fd) }
        try SystemCall.fsync(fd, path)
    }

    /// See ``FileSystem/lockFile(at:)``.
    public func availableBytes(at path: String) throws -> Int {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else {
            throw SegmentLogError.io(operation: "statvfs", path: path, errno: errno)
        }
        let (bytes, overflow) = Int(info.f_bavail).multipliedReportingOverflow(by: Int(info.f_frsize))
        return overflow ? .max : bytes
    }

    public func lockFile(at path: String) throws -> (any OpenFile)? {
        let fd = try SystemCall.open(path, O_RDWR | O_CREAT)
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            Glibc.close(fd)
            if code == EWOULDBLOCK { return nil }
            throw SegmentLogError.io(operation: "flock", path: path, errno: code)
        }
        let file = PosixFile(descriptor: fd, path: path)
        let holder = Array("pid \(getpid())\n".utf8)
        try file.truncate(to: 0)
        try file.write(holder, at: 0)
        return file
    }
}

func parentDirectory(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    return slash == path.startIndex ? "/" : String(path[..<slash])
}
