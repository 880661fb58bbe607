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
}
