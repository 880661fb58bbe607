import CChecksum

/// CRC-32C (Castagnoli), hardware-accelerated with SSE4.2 where the CPU has it.
enum CRC32C {
    /// Continues `seed` (0 to start) over `bytes`: checksum(b, seed: checksum(a)) is the
    /// checksum of a followed by b.
    static func checksum(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
        asched_crc32c(seed, bytes.baseAddress, bytes.count)
    }

    static func checksum(_ bytes: [UInt8], seed: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0, seed: seed) }
    }

    /// Extends a segment chain value by one frame's checksum.
    static func chain(_ chain: UInt32, appending frameChecksum: UInt32) -> UInt32 {
        withUnsafeBytes(of: frameChecksum.littleEndian) { checksum($0, seed: chain) }
    }
}
