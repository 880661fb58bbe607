/// Checks a JSON text (RFC 8259) in one pass and records where its values are, without building
/// them: the API stores each item as the bytes its client sent, so nothing is parsed into objects
/// and nothing is serialized again.
///
/// What it accepts is RFC 8259's grammar with these choices:
/// - **UTF-8 only** (§8.1): every string is well-formed UTF-8 (no overlong forms, no surrogates
///   encoded in UTF-8, nothing past U+10FFFF); no byte-order mark; UTF-16 and UTF-32 are refused.
/// - **No lone surrogates**: a `\uD800`–`\uDBFF` escape must be followed by a `\uDC00`–`\uDFFF`
///   escape, and a low one may not stand alone, so every string is a sequence of Unicode
///   scalars (§8.2 allows refusing them; a receiver written in Swift, Rust or Go would otherwise
///   decode them into U+FFFD or fail).
/// - **Numbers** follow §6's syntax; their magnitude is not checked (`1e400` is accepted: it is
///   JSON, and the scanner never converts it).
/// - **At most ``depthMax`` nested arrays and objects** (§9 allows a limit): deep enough for any
///   Matrix event (the body, its list and the event take 3), and the bound on the scanner's stack.
/// - **Duplicate member names** are accepted (§4: names SHOULD be unique), and a lookup by name
///   takes the **last** one, as Foundation, Python, JavaScript and Go do; the item's bytes keep
///   both, so a receiver sees what the client sent.
///
/// The result, a ``JSONDocument``, records the values of the first ``recordedLevelMax`` + 1
/// levels (the body, its members, their elements or members, and theirs: an event's `sender`
/// inside `events`): at most one 20-byte entry per such value, so its memory is bounded by the
/// body's size. Deeper values are checked and skipped.
///
/// ```swift
/// let document = try JSONScanner.scan(Array(#"{"events": [{"type": "m.room.message"}]}"#.utf8))
/// let events = document.member("events", of: document.root).map(document.elements) ?? []
/// let bytes = document[events[0]]  // {"type": "m.room.message"}, as sent
/// ```
package struct JSONScanner {
    /// The most arrays and objects nested in one another (the body's own object counts).
    package static let depthMax = 64
    /// The deepest level recorded: 0 is the body's value, 1 its members, 2 their elements or
    /// members, 3 theirs.
    package static let recordedLevelMax = 3

    /// Where a recorded value is; kept small (five 32-bit fields) because a body may hold
    /// millions of values.
    struct Node {
        /// The value's first byte and the byte after its last.
        var start: Int32
        var end: Int32
        /// The offset of the opening quote of its member name, or -1 for an element or the root.
        var key: Int32
        /// The next recorded value of the same container, or -1.
        var next: Int32
        var level: Int32
    }

    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0
    private var nodes: [Node] = []

    private init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// Checks `bytes` as one JSON text and records its values; throws where it stops being JSON.
    package static func scan(_ bytes: [UInt8]) throws(JSONScanError) -> JSONDocument {
        // Offsets are stored as Int32; bodies are limited to tens of MiB long before this.
        precondition(bytes.count < Int(Int32.max), "a JSON text to scan must be under 2 GiB")
        let result: Result<[Node], JSONScanError> = bytes.withUnsafeBufferPointer { buffer in
            var scanner = JSONScanner(buffer)
            do throws(JSONScanError) {
                try scanner.text()
                return .success(scanner.nodes)
            } catch {
                return .failure(error)
            }
        }
        let nodes = try result.get()
        assert(!nodes.isEmpty && nodes[0].start >= 0 && Int(nodes[0].end) <= bytes.count, "a scanned text records its root")
        return JSONDocument(bytes: bytes, nodes: nodes)
    }

    private mutating func text() throws(JSONScanError) {
        if bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF {
            throw JSONScanError(offset: 0, problem: "expected a JSON value: a byte-order mark is not allowed (RFC 8259 §8.1)")
        }
        if bytes.count >= 2 && (bytes[0] == 0 || bytes[1] == 0 || (bytes[0] == 0xFF && bytes[1] == 0xFE)
                                || (bytes[0] == 0xFE && bytes[1] == 0xFF)) {
            throw JSONScanError(offset: 0, problem: "expected a JSON value in UTF-8; this looks like UTF-16 or UTF-32")
        }
        skipWhitespace()
        _ = try value(level: 0, key: -1, recorded: true)
        skipWhitespace()
        guard index == bytes.count else { throw failure("expected the end of the body after the top-level value") }
    }

    /// Checks the value at ``index`` and moves past it; returns its node, or -1 when not recorded.
    private mutating func value(level: Int, key: Int32, recorded: Bool) throws(JSONScanError) -> Int32 {
        guard index < bytes.count else { throw failure("expected a JSON value") }
        var node: Int32 = -1
        if recorded {
            node = Int32(nodes.count)
            nodes.append(Node(start: Int32(index), end: -1, key: key, next: -1, level: Int32(level)))
        }
        switch bytes[index] {
        case UInt8(ascii: "{"): try object(level: level, recordingMembers: recorded && level < Self.recordedLevelMax)
        case UInt8(ascii: "["): try array(level: level, recordingElements: recorded && level < Self.recordedLevelMax)
        case UInt8(ascii: "\""): try string()
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: throw failure("expected a JSON value")
        }
        if recorded { nodes[Int(node)].end = Int32(index) }
        return node
    }

    /// Steps into the object or array at `index`, at nesting `level`; true when it is empty, its
    /// `closing` byte then read too.
    private mutating func enter(level: Int, closing: UInt8) throws(JSONScanError) -> Bool {
        guard level < Self.depthMax else { throw failure("more than \(Self.depthMax) nested arrays and objects") }
        index += 1
        skipWhitespace()
        guard index < bytes.count && bytes[index] == closing else { return false }
        index += 1
        return true
    }

    private mutating func object(level: Int, recordingMembers: Bool) throws(JSONScanError) {
        if try enter(level: level, closing: UInt8(ascii: "}")) { return }
        var previous: Int32 = -1
        var first = true
        while true {
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                throw failure(first ? "expected a member name (a string) or '}'" : "expected a member name (a string) after ','")
            }
            let keyStart = Int32(index)
            try string()
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw failure("expected ':' after a member name") }
            index += 1
            skipWhitespace()
            let member = try value(level: level + 1, key: keyStart, recorded: recordingMembers)
            if recordingMembers {
                if previous >= 0 { nodes[Int(previous)].next = member }
                previous = member
            }
            skipWhitespace()
            guard index < bytes.count else { throw failure("expected ',' or '}' after an object member") }
            switch bytes[index] {
            case UInt8(ascii: ","):
                index += 1
                first = false
                skipWhitespace()
            case UInt8(ascii: "}"):
                index += 1
                return
            default: throw failure("expected ',' or '}' after an object member")
            }
        }
    }

    private mutating func array(level: Int, recordingElements: Bool) throws(JSONScanError) {
        if try enter(level: level, closing: UInt8(ascii: "]")) { return }
        var previous: Int32 = -1
        while true {
            let element = try value(level: level + 1, key: -1, recorded: recordingElements)
            if recordingElements {
                if previous >= 0 { nodes[Int(previous)].next = element }
                previous = element
            }
            skipWhitespace()
            guard index < bytes.count else { throw failure("expected ',' or ']' after an array element") }
            switch bytes[index] {
            case UInt8(ascii: ","):
                index += 1
                skipWhitespace()
            case UInt8(ascii: "]"):
                index += 1
                return
            default: throw failure("expected ',' or ']' after an array element")
            }
        }
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    private func failure(_ problem: String) -> JSONScanError {
        JSONScanError(offset: index, problem: index < bytes.count ? problem : problem + ", found the end of the body")
    }
}

// Scalars: strings, numbers, literals.
extension JSONScanner {
    private mutating func string() throws(JSONScanError) {
        assert(bytes[index] == UInt8(ascii: "\""), "a string starts at its quote")
        let opening = index
        index += 1
        while true {
            skipPlainBytes()
            guard index < bytes.count else { throw failure("expected '\"' to close the string at byte \(opening)") }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return
            } else if byte == UInt8(ascii: "\\") {
                try escape()
            } else if byte < 0x20 {
                throw failure("expected a character: control character U+\(Self.hex(byte, digits: 4)) must be escaped in a string")
            } else if byte < 0x80 {
                index += 1
            } else {
                try utf8Character()
            }
        }
    }

    /// Skips 8 bytes at a time while none is a quote, a backslash, a control character or
    /// part of a multi-byte character: the common case of event text.
    private mutating func skipPlainBytes() {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highBits: UInt64 = 0x8080_8080_8080_8080
        guard let base = bytes.baseAddress else { return }
        while index + 8 <= bytes.count {
            let word = UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)
            // A byte below 0x20 borrows into its high bit; one at 0x80 or above has it set already.
            let controlOrHigh = ((word &- ones &* 0x20) | word) & highBits
            let quote = word ^ (ones &* 0x22)
            let backslash = word ^ (ones &* 0x5C)
            let quoteOrBackslash = ((quote &- ones) & ~quote | (backslash &- ones) & ~backslash) & highBits
            guard controlOrHigh | quoteOrBackslash == 0 else { return }
            index += 8
        }
    }

    /// One well-formed UTF-8 sequence of 2 to 4 bytes (Unicode's Table 3-7).
    private mutating func utf8Character() throws(JSONScanError) {
        let lead = bytes[index]
        let continuationCount: Int
        var second: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0xC2...0xDF: continuationCount = 1
        case 0xE0: (continuationCount, second) = (2, 0xA0...0xBF)
        case 0xE1...0xEC, 0xEE...0xEF: continuationCount = 2
        case 0xED: (continuationCount, second) = (2, 0x80...0x9F)
        case 0xF0: (continuationCount, second) = (3, 0x90...0xBF)
        case 0xF1...0xF3: continuationCount = 3
        case 0xF4: (continuationCount, second) = (3, 0x80...0x8F)
        case 0xC0, 0xC1: throw failure("expected UTF-8: 0x\(Self.hex(lead, digits: 2)) begins an overlong encoding")
        case 0x80...0xBF: throw failure("expected UTF-8: 0x\(Self.hex(lead, digits: 2)) continues a character that did not begin")
        default: throw failure("expected UTF-8: 0x\(Self.hex(lead, digits: 2)) is not a UTF-8 byte")
        }
        for offset in 1...continuationCount {
            let allowed = offset == 1 ? second : 0x80...0xBF
            index += 1
            guard index < bytes.count else { throw failure("expected the rest of a UTF-8 character") }
            guard allowed.contains(bytes[index]) else {
                let why = offset > 1 || bytes[index] & 0xC0 != 0x80 ? "expected a UTF-8 continuation byte"
                    : lead == 0xED ? "expected UTF-8: 0xED 0x\(Self.hex(bytes[index], digits: 2)) encodes a UTF-16 surrogate"
                    : lead == 0xF4 ? "expected UTF-8: a character beyond U+10FFFF" : "expected UTF-8: an overlong encoding"
                throw failure(why)
            }
        }
        index += 1
    }

    private mutating func escape() throws(JSONScanError) {
        let backslash = index
        index += 1
        guard index < bytes.count else { throw failure("expected an escape after '\\'") }
        switch bytes[index] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
             UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            index += 1
        case UInt8(ascii: "u"):
            index += 1
            let unit = try hexUnit()
            switch unit {
            case 0xD800...0xDBFF:
                let high = "\\u" + Self.hex(unit, digits: 4)
                guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                    throw failure("expected a low surrogate escape (\\uDC00-\\uDFFF) after \(high): a lone surrogate is not a character")
                }
                index += 2
                let low = try hexUnit()
                guard (0xDC00...0xDFFF).contains(low) else {
                    index -= 6
                    throw failure("expected a low surrogate escape (\\uDC00-\\uDFFF) after \(high): a lone surrogate is not a character")
                }
            case 0xDC00...0xDFFF:
                index = backslash
                throw failure("expected a character: \\u\(Self.hex(unit, digits: 4)) is a low surrogate without a high one before it")
            default: break
            }
        default: throw failure("expected one of \" \\ / b f n r t u after '\\'")
        }
    }

    /// The 4 hex digits of a `\u` escape, moving past them.
    private mutating func hexUnit() throws(JSONScanError) -> UInt16 {
        var unit: UInt16 = 0
        for _ in 0..<4 {
            guard index < bytes.count else { throw failure("expected 4 hex digits after \\u") }
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw failure("expected 4 hex digits after \\u")
            }
            unit = unit << 4 | UInt16(digit)
            index += 1
        }
        return unit
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?` (RFC 8259 §6).
    private mutating func number() throws(JSONScanError) {
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard isDigit() else { throw failure("expected a digit") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            if isDigit() { throw failure("expected '.', 'e' or the number's end: a number cannot have a leading zero") }
        } else {
            skipDigits()
        }
        if index < bytes.count && bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard isDigit() else { throw failure("expected a digit after the decimal point") }
            skipDigits()
        }
        if index < bytes.count && (bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E")) {
            index += 1
            if index < bytes.count && (bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-")) { index += 1 }
            guard isDigit() else { throw failure("expected a digit in the exponent") }
            skipDigits()
        }
    }

    private func isDigit() -> Bool {
        index < bytes.count && (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index])
    }

    private mutating func skipDigits() {
        while isDigit() { index += 1 }
    }

    private mutating func literal(_ word: StaticString) throws(JSONScanError) {
        let expected = UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
        for byte in expected {
            guard index < bytes.count, bytes[index] == byte else { throw failure("expected '\(word)'") }
            index += 1
        }
    }

    static func hex(_ value: some FixedWidthInteger, digits: Int) -> String {
        let text = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
}
