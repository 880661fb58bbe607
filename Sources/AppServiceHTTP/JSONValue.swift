/// A value in a ``JSONDocument``: its kind and where its bytes are.
package struct JSONValue: Sendable, Equatable {
    /// The JSON kinds, told apart by a value's first byte.
    package enum Kind: Sendable, Equatable {
        case object, array, string, number, bool, null

        init(firstByte: UInt8) {
            switch firstByte {
            case UInt8(ascii: "{"): self = .object
            case UInt8(ascii: "["): self = .array
            case UInt8(ascii: "\""): self = .string
            case UInt8(ascii: "t"), UInt8(ascii: "f"): self = .bool
            case UInt8(ascii: "n"): self = .null
            default: self = .number
            }
        }
    }

    /// Where the value's bytes are in the document's text.
    package let range: Range<Int>
    package let kind: Kind
    let node: Int32
}
