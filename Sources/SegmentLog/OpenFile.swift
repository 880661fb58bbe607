/// An open file of a ``FileSystem``. Reads and writes are positional, so one file may be read
/// from several threads.
public protocol OpenFile: AnyObject, Sendable {
    /// The path the file was opened at, for error messages.
    var path: String { get }
    /// Reads up to `buffer.count` bytes at `offset`; returns how many were read (0 at the end).
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws -> Int
    /// Writes all of `bytes` at `offset`.
    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws
    /// The file's current size in bytes.
    func size() throws -> Int
    /// Cuts or extends the file to `length` bytes.
    func truncate(to length: Int) throws
    /// Allocates blocks so the file is at least `length` bytes; new bytes read as zero
    /// (`fallocate`, or `ftruncate` where the file system cannot allocate).
    func preallocate(upTo length: Int) throws
    /// Forces the file's data, and the metadata needed to read it, to stable storage
    /// (`fdatasync`). A failure is final: the caller must not retry.
    func synchronizeData() throws
    /// Closes the file.
    func close() throws
}

extension OpenFile {
    /// Reads exactly `count` bytes at `offset`, or fewer at the end of the file.
    func read(count: Int, at offset: Int) throws -> [UInt8] {
        precondition(count >= 0 && offset >= 0)
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        try bytes.withUnsafeMutableBytes { buffer in
            while filled < count {
                let n = try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]),
                                 at: offset + filled)
                if n == 0 { break }
                filled += n
            }
        }
        bytes.removeLast(count - filled)
        return bytes
    }

    /// Writes zeros over `start ..< end`, a megabyte at a time.
    func writeZeros(from start: Int, to end: Int) throws {
        precondition(start >= 0)
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        var offset = start
        while offset < end {
            let count = min(zeros.count, end - offset)
            try zeros.withUnsafeBytes { try write(UnsafeRawBufferPointer(rebasing: $0[0..<count]), at: offset) }
            offset += count
        }
    }

    /// Writes all of `bytes` at `offset`.
    func write(_ bytes: [UInt8], at offset: Int) throws {
        try bytes.withUnsafeBytes { try write($0, at: offset) }
    }
}
