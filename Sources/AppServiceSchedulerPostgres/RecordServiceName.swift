/// Reads the service a scheduler record names from its payload (docs/FORMAT.md §9: every record
/// starts with its encoding version, a varint, then the service as a length-prefixed string), so
/// the records table can say which service each row is about without decoding whole records.
enum RecordServiceName {
    /// A service id's length in bytes that this reader accepts; longer ones are not read.
    static let bytesMax = 1024

    /// The service `payload` names, or nil when it does not start like a scheduler record.
    static func of(_ payload: [UInt8]) -> String? {
        var offset = 0
        guard readVarint(payload, &offset) != nil, let length = readVarint(payload, &offset),
              length > 0, length <= UInt64(bytesMax), length <= UInt64(payload.count - offset) else { return nil }
        let end = offset + Int(length)
        assert(end <= payload.count)
        return String(validating: payload[offset..<end], as: UTF8.self)
    }

    private static func readVarint(_ bytes: [UInt8], _ offset: inout Int) -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while offset < bytes.count, shift < 64 {
            let byte = bytes[offset]
            offset += 1
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
        return nil
    }
}
