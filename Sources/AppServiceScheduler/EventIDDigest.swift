/// A digest of a relayed transaction's event ids, in any order: a homeserver's retry carries the
/// same ids in re-serialized events (Synapse recomputes `unsigned.age`), so the ids, not the
/// bytes, tell a retry from new data. 128 bits of FNV-1a, so the window of remembered ids stays
/// small (``RelayWindow``) while two different sets of ids practically never collide.
public struct EventIDDigest: Sendable, Hashable, CustomStringConvertible {
    /// The digest's bits.
    public let value: UInt128

    /// A digest as stored.
    public init(value: UInt128) {
        self.value = value
    }

    /// The digest of `eventIDs`, sorted by their UTF-8 bytes, each prefixed by its length so no
    /// two lists hash the same bytes.
    public init(eventIDs: [String]) {
        var hash: UInt128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d
        let prime: UInt128 = 0x0000_0000_0100_0000_0000_0000_0000_013B
        func mix(_ byte: UInt8) {
            hash = (hash ^ UInt128(byte)) &* prime
        }
        for id in eventIDs.map({ Array($0.utf8) }).sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            var length = UInt64(id.count)
            for _ in 0..<8 {
                mix(UInt8(truncatingIfNeeded: length))
                length >>= 8
            }
            id.forEach(mix)
        }
        value = hash
    }

    /// 32 hex digits.
    public var description: String {
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 32 - hex.count) + hex
    }
}
