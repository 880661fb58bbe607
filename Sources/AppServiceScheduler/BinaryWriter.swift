/// Appends the record encoding's primitives: LEB128 varints and length-prefixed bytes.
struct BinaryWriter {
    private(set) var bytes: [UInt8] = []

    mutating func write(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    mutating func write(_ value: Int) {
        precondition(value >= 0, "negative counts are not encoded")
        write(UInt64(value))
    }

    mutating func write(signed value: Int64) {
        write(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    mutating func write(bytes value: [UInt8]) {
        write(value.count)
        bytes += value
    }

    mutating func write(_ value: String) {
        write(bytes: Array(value.utf8))
    }
}
