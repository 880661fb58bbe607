/// Reads what ``BinaryWriter`` wrote, refusing truncated or oversized fields.
struct BinaryReader {
    struct Failure: Error {
        let reason: String
    }

    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    var isAtEnd: Bool { offset == bytes.count }

    mutating func readUInt64() throws(Failure) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < bytes.count else { throw Failure(reason: "truncated varint at byte \(offset)") }
            guard shift < 64 else { throw Failure(reason: "varint longer than 64 bits at byte \(offset)") }
            let byte = bytes[offset]
            offset += 1
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
    }

    /// A count or size, which must not exceed what is left to read (so no huge allocation).
    mutating func readCount() throws(Failure) -> Int {
        let value = try readUInt64()
        guard value <= UInt64(bytes.count - offset) else {
            throw Failure(reason: "count \(value) at byte \(offset) exceeds the \(bytes.count - offset) bytes left")
        }
        return Int(value)
    }

    mutating func readInt() throws(Failure) -> Int {
        let value = try readUInt64()
        guard value <= UInt64(Int.max) else { throw Failure(reason: "integer \(value) out of range") }
        return Int(value)
    }

    mutating func readSigned() throws(Failure) -> Int64 {
        let raw = try readUInt64()
        return Int64(bitPattern: raw >> 1) ^ -Int64(bitPattern: raw & 1)
    }

    mutating func readBytes() throws(Failure) -> [UInt8] {
        let count = try readCount()
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    /// Skips a length-prefixed byte string, checked as ``readBytes()`` checks it, without copying it.
    mutating func skipBytes() throws(Failure) {
        let count = try readCount()
        offset += count
        assert(offset <= bytes.count)
    }

    mutating func readString() throws(Failure) -> String {
        let raw = try readBytes()
        guard let string = String(validating: raw, as: UTF8.self) else {
            throw Failure(reason: "string before byte \(offset) is not UTF-8")
        }
        return string
    }
}
