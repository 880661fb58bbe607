import CLZ4

/// LZ4 block compression through Debian's liblz4.
enum LZ4 {
    /// The compressed form of `bytes`, or nil when it would not be smaller.
    static func compress(_ bytes: [UInt8]) -> [UInt8]? {
        precondition(bytes.count <= FrameHeader.payloadBytesMax)
        let bound = Int(LZ4_compressBound(Int32(bytes.count)))
        var output = [UInt8](repeating: 0, count: bound)
        let written = bytes.withUnsafeBytes { source in
            output.withUnsafeMutableBytes { target in
                LZ4_compress_default(source.baseAddress?.assumingMemoryBound(to: CChar.self),
                                     target.baseAddress!.assumingMemoryBound(to: CChar.self),
                                     Int32(bytes.count), Int32(bound))
            }
        }
        precondition(written >= 0 && Int(written) <= bound, "LZ4_compress_default failed")
        guard written > 0 && Int(written) < bytes.count else { return nil }
        output.removeLast(bound - Int(written))
        return output
    }

    /// Decompresses `stored` into exactly `rawCount` bytes; nil when the data is not a valid LZ4
    /// block of that size.
    static func decompress(_ stored: UnsafeRawBufferPointer, rawCount: Int) -> [UInt8]? {
        precondition(rawCount >= 0 && rawCount <= FrameHeader.payloadBytesMax)
        var output = [UInt8](repeating: 0, count: rawCount)
        let produced = output.withUnsafeMutableBytes { target in
            LZ4_decompress_safe(stored.baseAddress?.assumingMemoryBound(to: CChar.self),
                                target.baseAddress?.assumingMemoryBound(to: CChar.self),
                                Int32(stored.count), Int32(rawCount))
        }
        return Int(produced) == rawCount ? output : nil
    }
}
