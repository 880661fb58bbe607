/// A JSON text that ``JSONScanner`` checked, with the places of its values down to
/// ``JSONScanner/recordedLevelMax``: look members and elements up, read strings, and take any
/// value's bytes exactly as they are in the text.
///
/// ```swift
/// let document = try JSONScanner.scan(Array(#"{"sender": "@a:b", "n": [1, 2]}"#.utf8))
/// document.member("sender", of: document.root).flatMap(document.string)  // "@a:b"
/// document.member("n", of: document.root).map { document.elements(of: $0).map { document[$0] } }  // ["1", "2"]
/// ```
package struct JSONDocument: Sendable {
    /// The text, as given.
    package let bytes: [UInt8]
    private let nodes: [JSONScanner.Node]

    init(bytes: [UInt8], nodes: [JSONScanner.Node]) {
        self.bytes = bytes
        self.nodes = nodes
    }

    /// The text's top-level value.
    package var root: JSONValue { value(at: 0) }

    /// The bytes of `value`, as in the text.
    package subscript(value: JSONValue) -> ArraySlice<UInt8> { bytes[value.range] }

    /// The elements of `array`, in order.
    package func elements(of array: JSONValue) -> [JSONValue] {
        precondition(array.kind == .array, "elements(of:) takes an array")
        var elements: [JSONValue] = []
        var child = firstChild(of: array)
        while child >= 0 {
            elements.append(value(at: child))
            child = nodes[Int(child)].next
        }
        return elements
    }

    /// The member of `object` named `name` (after unescaping), the last one when the name
    /// repeats; nil when there is none.
    package func member(_ name: String, of object: JSONValue) -> JSONValue? {
        precondition(object.kind == .object, "member(_:of:) takes an object")
        var found: Int32 = -1
        var child = firstChild(of: object)
        while child >= 0 {
            if key(at: Int(nodes[Int(child)].key), equals: name) { found = child }
            child = nodes[Int(child)].next
        }
        return found >= 0 ? value(at: found) : nil
    }

    /// The members of `object` in the text's order, repeated names included.
    package func members(of object: JSONValue) -> [(name: String, value: JSONValue)] {
        precondition(object.kind == .object, "members(of:) takes an object")
        var members: [(name: String, value: JSONValue)] = []
        var child = firstChild(of: object)
        while child >= 0 {
            members.append((decodedString(at: Int(nodes[Int(child)].key)), value(at: child)))
            child = nodes[Int(child)].next
        }
        return members
    }

    /// The text of `value` with its escapes decoded, or nil when it is not a string.
    package func string(_ value: JSONValue) -> String? {
        value.kind == .string ? decodedString(at: value.range.lowerBound) : nil
    }

    private func value(at node: Int32) -> JSONValue {
        let entry = nodes[Int(node)]
        assert(entry.start < entry.end, "a recorded value has bytes")
        return JSONValue(range: Int(entry.start)..<Int(entry.end), kind: JSONValue.Kind(firstByte: bytes[Int(entry.start)]),
                         node: node)
    }

    /// The first recorded child of `container`, or -1: children follow their container in the
    /// scanner's order, so the next node is one when it lies inside the container.
    private func firstChild(of container: JSONValue) -> Int32 {
        precondition(nodes[Int(container.node)].level < JSONScanner.recordedLevelMax,
                     "the scanner does not record values deeper than level \(JSONScanner.recordedLevelMax)")
        let next = Int(container.node) + 1
        return next < nodes.count && Int(nodes[next].start) < container.range.upperBound ? Int32(next) : -1
    }

    /// Whether the string whose opening quote is at `quote` is `name`: byte by byte up to the
    /// first escape, decoded after it.
    private func key(at quote: Int, equals name: String) -> Bool {
        assert(bytes[quote] == UInt8(ascii: "\""), "a member name starts at its quote")
        var offset = quote + 1
        for byte in name.utf8 {
            let textByte = bytes[offset]
            if textByte == UInt8(ascii: "\\") { return decodedString(at: quote) == name }
            if textByte != byte { return false }
            offset += 1
        }
        if bytes[offset] == UInt8(ascii: "\\") { return decodedString(at: quote) == name }
        return bytes[offset] == UInt8(ascii: "\"")
    }

    /// The string whose opening quote is at `quote`, decoded; the scanner has checked it, so
    /// every escape is complete and every surrogate paired.
    private func decodedString(at quote: Int) -> String {
        var offset = quote + 1
        while bytes[offset] != UInt8(ascii: "\"") && bytes[offset] != UInt8(ascii: "\\") { offset += 1 }
        if bytes[offset] == UInt8(ascii: "\"") { return String(decoding: bytes[(quote + 1)..<offset], as: UTF8.self) }
        var decoded = Array(bytes[(quote + 1)..<offset])
        while bytes[offset] != UInt8(ascii: "\"") {
            guard bytes[offset] == UInt8(ascii: "\\") else {
                decoded.append(bytes[offset])
                offset += 1
                continue
            }
            let escaped = bytes[offset + 1]
            offset += 2
            switch escaped {
            case UInt8(ascii: "b"): decoded.append(0x08)
            case UInt8(ascii: "f"): decoded.append(0x0C)
            case UInt8(ascii: "n"): decoded.append(0x0A)
            case UInt8(ascii: "r"): decoded.append(0x0D)
            case UInt8(ascii: "t"): decoded.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = UInt32(hexUnit(at: offset))
                offset += 4
                if (0xD800...0xDBFF).contains(scalar) {
                    scalar = 0x10000 + (scalar - 0xD800) << 10 + (UInt32(hexUnit(at: offset + 2)) - 0xDC00)
                    offset += 6
                }
                decoded += Array(String(Character(Unicode.Scalar(scalar)!)).utf8)
            default: decoded.append(escaped)
            }
        }
        return String(decoding: decoded, as: UTF8.self)
    }

    private func hexUnit(at offset: Int) -> UInt16 {
        bytes[offset..<(offset + 4)].reduce(0) { unit, byte in
            unit << 4 | UInt16(byte <= UInt8(ascii: "9") ? byte - UInt8(ascii: "0") : (byte | 0x20) - UInt8(ascii: "a") + 10)
        }
    }
}
