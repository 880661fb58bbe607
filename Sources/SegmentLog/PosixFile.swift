import Glibc
import Synchronization

/// A file descriptor opened by ``PosixFileSystem``.
final class PosixFile: OpenFile {
    let descriptor: Int32
    let path: String
    private let closed = Mutex(false)

    init(descriptor: Int32, path: String) {
        precondition(descriptor >= 0)
        self.descriptor = descriptor
        self.path = path
    }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws -> Int {
        try SystemCall.pread(descriptor, buffer, offset, path)
    }

    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        try SystemCall.pwriteAll(descriptor, bytes, offset, path)
    }

    func size() throws -> Int {
        var info = stat()
        if fstat(descriptor, &info) != 0 {
            throw SegmentLogError.io(operation: "fstat", path: path, errno: errno)
        }
        return Int(info.st_size)
    }

    func truncate(to length: Int) throws {
        _ = try SystemCall.retrying("ftruncate", path) { ftruncate(descriptor, off_t(length)) }
    }

    func preallocate(upTo length: Int) throws {
        try SystemCall.preallocate(descriptor, length, path)
    }

    func synchronizeData() throws {
        try SystemCall.fdatasync(descriptor, path)
    }

    func close() throws {
        // Once only: a second close could hit a descriptor number reused by someone else.
        guard closed.withLock({ closed in defer { closed = true }; return !closed }) else { return }
        // close is not retried on EINTR: on Linux the descriptor is released either way.
        if Glibc.close(descriptor) != 0 {
            throw SegmentLogError.io(operation: "close", path: path, errno: errno)
        }
    }
}
