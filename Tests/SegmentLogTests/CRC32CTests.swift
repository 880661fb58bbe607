import SegmentLogTesting
import CChecksum
import Testing

@Suite struct CRC32CTests {
    @Test func matchesTheStandardCheckValue() {
        let bytes = Array("123456789".utf8)
        #expect(asched_crc32c(0, bytes, bytes.count) == 0xE306_9283)
        #expect(asched_crc32c_portable(0, bytes, bytes.count) == 0xE306_9283)
    }

    @Test func hardwareAndPortableAgreeAndChain() {
        var random = SeededRandom(seed: 7)
        for length in [0, 1, 7, 8, 9, 63, 64, 1000, 4099] {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
            let whole = asched_crc32c(0, bytes, bytes.count)
            #expect(whole == asched_crc32c_portable(0, bytes, bytes.count))
            let split = length / 3
            let first = asched_crc32c(0, bytes, split)
            let chained = bytes[split...].withUnsafeBytes { asched_crc32c(first, $0.baseAddress, $0.count) }
            #expect(chained == whole, "chaining at \(split) of \(length)")
        }
    }

    /// The hardware path checksums three blocks at once (3 x 8192 and 3 x 64 bytes) and joins
    /// them; lengths at and around those rounds, at every alignment and with a seed, must give
    /// what the byte-at-a-time table gives.
    @Test func hardwareAgreesAroundItsThreeBlockRounds() {
        var random = SeededRandom(seed: 11)
        let bytes = (0..<(3 * 8192 * 2 + 3 * 64 + 40)).map { _ in UInt8.random(in: 0...255, using: &random) }
        let lengths = [191, 192, 193, 200, 383, 384, 385, 600, 24_575, 24_576, 24_577, 24_576 + 192 + 7, bytes.count - 8]
        bytes.withUnsafeBytes { raw in
            for length in lengths {
                for offset in 0..<8 {
                    let seed = UInt32.random(in: 0...UInt32.max, using: &random)
                    let hardware = asched_crc32c(seed, raw.baseAddress! + offset, length)
                    let portable = asched_crc32c_portable(seed, raw.baseAddress! + offset, length)
                    #expect(hardware == portable, "length \(length) at offset \(offset)")
                }
            }
        }
    }
}
