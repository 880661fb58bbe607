import Glibc

/// The physical baselines: what the disk does with no log format on top.
enum RawDisk {
    /// 4 KiB `pwrite` + `fdatasync` per operation, appending (the file grows each time) or
    /// overwriting an already-written file; returns operations per second.
    static func syncedWritesPerSecond(path: String, count: Int, overwrite: Bool) throws -> Double {
        let fd = open(path, O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw BenchError("open \(path): errno \(errno)") }
        defer { close(fd); unlink(path) }
        let block = [UInt8](repeating: 0x5A, count: 4096)
        if overwrite {
            for index in 0..<count { try write(fd, block, at: index * 4096) }
            guard fdatasync(fd) == 0 else { throw BenchError("fdatasync: errno \(errno)") }
        }
        let elapsed = try Stopwatch.measure {
            for index in 0..<count {
                try write(fd, block, at: index * 4096)
                guard fdatasync(fd) == 0 else { throw BenchError("fdatasync: errno \(errno)") }
            }
        }
        return Double(count) / elapsed
    }

    /// `bytesPerWrite` bytes per `pwrite` + `fdatasync`, at consecutive offsets of a file that is
    /// either zero-filled and synced beforehand (`overwrite`: what a prepared `.zeroFill`
    /// segment is to the log, so the writes overwrite allocated blocks) or empty and growing
    /// with each write (new blocks, as any log that keeps taking new data needs them); returns
    /// writes per second.
    static func sequentialSyncedWritesPerSecond(path: String, bytesPerWrite: Int, count: Int,
                                                overwrite: Bool) throws -> Double {
        let fd = open(path, O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw BenchError("open \(path): errno \(errno)") }
        defer { close(fd); unlink(path) }
        if overwrite {
            let zeros = [UInt8](repeating: 0, count: 1 << 20)
            for offset in stride(from: 0, to: bytesPerWrite * count, by: zeros.count) { try write(fd, zeros, at: offset) }
            guard fdatasync(fd) == 0 else { throw BenchError("fdatasync: errno \(errno)") }
        }
        let bytes = [UInt8](repeating: 0x5A, count: bytesPerWrite)
        let elapsed = try Stopwatch.measure {
            for index in 0..<count {
                try write(fd, bytes, at: index * bytesPerWrite)
                guard fdatasync(fd) == 0 else { throw BenchError("fdatasync: errno \(errno)") }
            }
        }
        return Double(count) / elapsed
    }

    /// Sequential `pread` of whole files in 1 MiB chunks; returns bytes per second.
    static func sequentialReadBytesPerSecond(paths: [String]) throws -> Double {
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var total = 0
        let elapsed = try Stopwatch.measure {
            for path in paths {
                let fd = open(path, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { throw BenchError("open \(path): errno \(errno)") }
                defer { close(fd) }
                var offset = 0
                while true {
                    let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(offset)) }
                    if n <= 0 { break }
                    offset += n
                }
                total += offset
            }
        }
        return Double(total) / elapsed
    }

    private static func write(_ fd: Int32, _ block: [UInt8], at offset: Int) throws {
        let written = block.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
        guard written == block.count else { throw BenchError("pwrite: errno \(errno)") }
    }
}
