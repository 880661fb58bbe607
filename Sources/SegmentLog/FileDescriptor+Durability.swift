import Glibc

/// The system calls SegmentLog needs, retried on EINTR, throwing ``SegmentLogError/io``.
enum SystemCall {
    /// Runs `call` until it does not fail with EINTR.
    static func retrying<T: BinaryInteger>(_ operation: String, _ path: String,
                                           _ call: () -> T) throws -> T {
        while true {
            let result = call()
            if result >= 0 { return result }
            let code = errno
            if code != EINTR { throw SegmentLogError.io(operation: operation, path: path, errno: code) }
        }
    }

    static func open(_ path: String, _ flags: Int32, _ mode: mode_t = 0o644) throws -> Int32 {
        try retrying("open", path) { Glibc.open(path, flags | O_CLOEXEC, mode) }
    }

    /// `fdatasync`: never retried after a real failure, because the kernel may already have
    /// dropped the dirty pages it failed to write (the "fsyncgate" lesson).
    static func fdatasync(_ fd: Int32, _ path: String) throws {
        _ = try retrying("fdatasync", path) { Glibc.fdatasync(fd) }
    }

    static func fsync(_ fd: Int32, _ path: String) throws {
        _ = try retrying("fsync", path) { Glibc.fsync(fd) }
    }

    static func pwriteAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, _ offset: Int,
                          _ path: String) throws {
        var done = 0
        while done < bytes.count {
            let n = try retrying("pwrite", path) {
                Glibc.pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            }
            precondition(n > 0, "pwrite wrote nothing")
            done += n
        }
    }

    static func pread(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer, _ offset: Int,
                      _ path: String) throws -> Int {
        guard buffer.count > 0 else { return 0 }
        return try retrying("pread", path) { Glibc.pread(fd, buffer.baseAddress!, buffer.count, off_t(offset)) }
    }

    /// `posix_fallocate` from 0 to `length` (glibc uses `fallocate`, or writes zeros where the
    /// file system lacks it); it returns its error instead of setting errno.
    static func preallocate(_ fd: Int32, _ length: Int, _ path: String) throws {
        precondition(length >= 0)
        while true {
            let code = posix_fallocate(fd, 0, off_t(length))
            if code == 0 { return }
            if code != EINTR { throw SegmentLogError.io(operation: "posix_fallocate", path: path, errno: code) }
        }
    }
}
