import AppServiceHTTP
import Foundation
import Testing

/// ``JSONScanner``'s verdict against Foundation's `JSONSerialization` on generated JSON and on
/// mutations of it, seeded (a failure prints the seed, the case and both verdicts); and hostile
/// input, answered with a result or an error of bounded size.
///
/// Where the two may disagree, and the scanner is the stricter by design (each is asserted to
/// be refused by it with the reason below; any other disagreement fails the test):
/// - a byte-order mark, or UTF-16/UTF-32 text: Foundation detects the encoding, RFC 8259 §8.1
///   says JSON exchanged between systems is UTF-8 without one;
/// - more than ``JSONScanner/depthMax`` nested arrays and objects: Foundation's own limit is
///   higher (§9 lets an implementation choose);
/// - a trailing comma (`[1,]`, `{"a": 1,}`): Foundation accepts one (found by this test), §4 and
///   §5 have none; before the scanner the API accepted such bodies.
/// Lone surrogate escapes (`"\uD800"`, `"\uDC00"`, a high one followed by anything but a low
/// one) are refused by both, so they are compared like any other input. And the one difference
/// where the scanner is the more lenient:
/// - a number whose magnitude Foundation cannot hold (`1e400`): valid JSON (§6), never converted
///   by the scanner, so not refused by it.
@Suite struct JSONScannerFuzzTests {
    /// SplitMix64: small, seeded, the same sequence on every platform.
    struct Random {
        var state: UInt64

        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }

        mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
        mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
        mutating func pick<T>(_ values: [T]) -> T { values[below(values.count)] }
    }

    static let caseCount = 20_000
    static let seed: UInt64 = 0x61_73_63_68_65_64_31_34

    /// A valid JSON text for `random`, up to `depth` levels deep.
    static func value(_ random: inout Random, depth: Int) -> [UInt8] {
        let space = { (random: inout Random) -> [UInt8] in
            random.chance(80) ? [] : Array(random.pick([" ", "\n", "\t", "\r\n  "]).utf8)
        }
        switch depth > 0 ? random.below(9) : 2 + random.below(7) {
        case 0:
            let count = random.below(5)
            var text: [UInt8] = Array("{".utf8) + space(&random)
            for index in 0..<count {
                if index > 0 { text += Array(",".utf8) + space(&random) }
                text += string(&random) + space(&random) + Array(":".utf8) + space(&random) + value(&random, depth: depth - 1)
            }
            return text + space(&random) + Array("}".utf8)
        case 1:
            let count = random.below(5)
            var text: [UInt8] = Array("[".utf8) + space(&random)
            for index in 0..<count {
                if index > 0 { text += Array(",".utf8) + space(&random) }
                text += value(&random, depth: depth - 1) + space(&random)
            }
            return text + Array("]".utf8)
        case 2, 3, 4: return string(&random)
        case 5, 6: return number(&random)
        default: return Array(random.pick(["true", "false", "null"]).utf8)
        }
    }

    static func string(_ random: inout Random) -> [UInt8] {
        var text: [UInt8] = [0x22]
        for _ in 0..<random.below(24) {
            text += Array(random.pick(["a", "Z", " ", "0", "é", "☃", "😀", "\u{7F}", "\u{10FFFF}", "\\\"", "\\\\", "\\/",
                                       "\\n", "\\t", "\\u0000", "\\u00e9", "\\uD83D\\uDE00", "\\uFFFF", "abcdefgh"]).utf8)
        }
        return text + [0x22]
    }

    static func number(_ random: inout Random) -> [UInt8] {
        var text = random.chance(30) ? "-" : ""
        text += random.chance(20) ? "0" : String(1 + random.below(9)) + String(repeating: "7", count: random.below(6))
        if random.chance(30) { text += "." + String(random.below(100_000)) }
        if random.chance(20) { text += random.pick(["e", "E"]) + random.pick(["", "+", "-"]) + String(random.below(20)) }
        return Array(text.utf8)
    }

    static let trickyBytes: [UInt8] = [0x00, 0x09, 0x1F, 0x20, 0x22, 0x2C, 0x2D, 0x2E, 0x30, 0x31, 0x3A, 0x45, 0x5B, 0x5C,
                                       0x5D, 0x65, 0x75, 0x7B, 0x7D, 0x7F, 0x80, 0xBF, 0xC0, 0xC2, 0xE0, 0xED, 0xEF, 0xF0,
                                       0xF4, 0xF5, 0xFF]
    static let trickySnippets: [String] = [#"\uD800"#, #"\uDC00"#, #"\uDBFF\uDFFF"#, #"\uD83D"#, #"\u00"#, #"\"#, "\u{FEFF}",
                                           "01", "1.", "-", "1e", "1e400", "-0", "1E+2", "[", "]", "{", "}", ",", ":", "\"",
                                           "true", "nul", ",]", ",}", String(repeating: "[", count: 70), String(repeating: "{\"a\":", count: 70),
                                           "\u{0}", "\u{1}", "\u{7F}", "\r"]

    static func mutate(_ text: [UInt8], _ random: inout Random) -> [UInt8] {
        var text = text
        for _ in 0..<(1 + random.below(3)) {
            let at = random.below(text.count + 1)
            switch random.below(6) {
            case 0 where !text.isEmpty: text[min(at, text.count - 1)] = random.pick(trickyBytes)
            case 1 where !text.isEmpty: text[min(at, text.count - 1)] = UInt8(truncatingIfNeeded: random.next())
            case 2: text.removeSubrange(min(at, text.count)...)
            case 3 where at < text.count: text.remove(at: at)
            case 4 where random.chance(50):
                // Inside a string about half the time: after one of its quotes.
                let quotes = text.indices.filter { text[$0] == 0x22 }
                text.insert(contentsOf: Array(random.pick(trickySnippets).utf8), at: quotes.isEmpty ? at : random.pick(quotes) + 1)
            case 4: text.insert(contentsOf: Array(random.pick(trickySnippets).utf8), at: at)
            case 5 where random.chance(30):
                let depth = 55 + random.below(15)
                text = [UInt8](repeating: UInt8(ascii: "["), count: depth) + text + [UInt8](repeating: UInt8(ascii: "]"), count: depth)
            default: text.insert(contentsOf: [0xEF, 0xBB, 0xBF] + (random.chance(50) ? [] : [0x00]), at: random.chance(50) ? 0 : at)
            }
        }
        return text
    }

    enum Difference: String {
        case byteOrderMarkOrUTF16Or32, nesting, trailingComma, numberMagnitude
    }

    /// Why the two verdicts on `text` may differ, or nil when they may not.
    static func knownDifference(_ text: [UInt8], scanner: JSONScanError?, foundation: (any Error)?) -> Difference? {
        if let scanner, foundation == nil {
            if scanner.problem.contains("byte-order mark") || scanner.problem.contains("UTF-16 or UTF-32") { return .byteOrderMarkOrUTF16Or32 }
            if scanner.problem.contains("nested arrays and objects") { return .nesting }
            let before = text[..<min(scanner.offset, text.count)].last { ![0x20, 0x0A, 0x0D, 0x09].contains($0) }
            if scanner.offset < text.count, [UInt8(ascii: "]"), UInt8(ascii: "}")].contains(text[scanner.offset]),
               before == UInt8(ascii: ",") {
                return .trailingComma
            }
        }
        if scanner == nil, let foundation, "\(foundation)".contains("is not representable") {
            return .numberMagnitude
        }
        return nil
    }

    static func foundationError(_ text: [UInt8]) -> (any Error)? {
        do {
            _ = try JSONSerialization.jsonObject(with: Data(text), options: [.fragmentsAllowed])
            return nil
        } catch {
            return error
        }
    }

    static func scannerError(_ text: [UInt8]) -> JSONScanError? {
        do {
            let document = try JSONScanner.scan(text)
            checkRecorded(document, text: text)
            return nil
        } catch {
            #expect(error.offset >= 0 && error.offset <= text.count, "\(error) is outside the \(text.count) bytes")
            return error
        }
    }

    /// The recorded top-level members and elements are the values Foundation reads there.
    static func checkRecorded(_ document: JSONDocument, text: [UInt8]) {
        // Foundation drops a U+FEFF that starts a string or follows an escape in one (it decodes
        // each run between escapes as a text that may begin with a byte-order mark); the scanner
        // decodes it as the character it is, so texts holding one are compared by verdict only.
        guard !zip(text, zip(text.dropFirst(), text.dropFirst(2))).contains(where: { $0 == 0xEF && $1.0 == 0xBB && $1.1 == 0xBF })
        else { return }
        guard let whole = try? JSONSerialization.jsonObject(with: Data(text), options: [.fragmentsAllowed]) else { return }
        switch document.root.kind {
        case .object:
            guard let object = whole as? [String: Any] else {
                Issue.record("not an object: \(show(text))")
                return
            }
            let members = document.members(of: document.root)
            #expect(Set(members.map(\.name)) == Set(object.keys), "\(show(text))")
            for (name, value) in members where document.member(name, of: document.root) == value {
                #expect(canonical(document[value]) == object[name].flatMap(canonical), "member \(name) of \(show(text))")
            }
        case .array:
            guard let array = whole as? [Any] else {
                Issue.record("not an array: \(show(text))")
                return
            }
            let elements = document.elements(of: document.root)
            #expect(elements.count == array.count, "\(show(text))")
            for (element, expected) in zip(elements, array) {
                #expect(canonical(document[element]) == canonical(expected), "\(show(text))")
            }
        case .string:
            #expect(document.string(document.root) == whole as? String, "\(show(text))")
        default: break
        }
    }

    /// `value` as Foundation writes it with sorted keys: equal for equal values.
    static func canonical(_ value: Any) -> Data? {
        try? JSONSerialization.data(withJSONObject: [value], options: [.sortedKeys, .fragmentsAllowed])
    }

    /// The value of `bytes` as Foundation reads and writes it.
    static func canonical(_ bytes: ArraySlice<UInt8>) -> Data? {
        (try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])).flatMap(canonical)
    }

    static func show(_ text: [UInt8]) -> String {
        let printable = String(decoding: text.prefix(300), as: UTF8.self)
        return "\(text.count) bytes: \(printable.debugDescription)" + (text.count > 300 ? "…" : "")
    }

    @Test func verdictsMatchFoundationOnGeneratedAndMutatedJSON() {
        var random = Random(state: Self.seed)
        var differences: [Difference: Int] = [:]
        var examples: [Difference: String] = [:]
        var (accepted, refused) = (0, 0)
        for index in 0..<Self.caseCount {
            let valid = Self.value(&random, depth: 1 + random.below(5))
            let text = index % 4 == 0 ? valid : Self.mutate(valid, &random)
            let scanner = Self.scannerError(text)
            let foundation = Self.foundationError(text)
            if scanner == nil { accepted += 1 } else { refused += 1 }
            if index % 4 == 0 { #expect(scanner == nil, "generated JSON refused (seed \(Self.seed), case \(index)): \(scanner.map { "\($0)" } ?? "") \(Self.show(text))") }
            guard (scanner == nil) != (foundation == nil) else { continue }
            if let known = Self.knownDifference(text, scanner: scanner, foundation: foundation) {
                differences[known, default: 0] += 1
                examples[known] = examples[known] ?? "\(Self.show(text)): \(scanner.map { "\($0)" } ?? "\(foundation!)")"
            } else {
                Issue.record("""
                    seed \(Self.seed), case \(index): scanner \(scanner.map { "refused: \($0)" } ?? "accepted"), \
                    Foundation \(foundation.map { "refused: \($0)" } ?? "accepted"): \(Self.show(text))
                    """)
            }
        }
        #expect(differences[.nesting, default: 0] > 0 && differences[.byteOrderMarkOrUTF16Or32, default: 0] > 0
                && differences[.trailingComma, default: 0] > 0, "the known differences are exercised: \(differences)")
        // The mutations must exercise both verdicts, or the comparison proves nothing.
        #expect(accepted > Self.caseCount / 4 && refused > Self.caseCount / 4, "accepted \(accepted), refused \(refused)")
        print("JSONScanner fuzz: \(Self.caseCount) cases, \(accepted) accepted, \(refused) refused; known differences \(differences)")
        for (difference, example) in examples { print("  \(difference), e.g. \(example)") }
    }

    @Test func hostileInputGetsAResultOrAnError() throws {
        let deep = [UInt8](repeating: UInt8(ascii: "["), count: 100_000)
        #expect(Self.scannerErrorOnly(deep)?.offset == JSONScanner.depthMax)
        let deepObjects = Array(String(repeating: #"{"a":"#, count: 100_000).utf8)
        #expect(Self.scannerErrorOnly(deepObjects)?.offset == JSONScanner.depthMax * 5)

        let sixteenMiB = 16 << 20
        var string = [UInt8](repeating: UInt8(ascii: "a"), count: sixteenMiB)
        string[0] = 0x22
        string[sixteenMiB - 1] = 0x22
        let document = try JSONScanner.scan(string)
        #expect(document.root.kind == .string && document.root.range == 0..<sixteenMiB)
        string[sixteenMiB - 1] = UInt8(ascii: "a")
        #expect(Self.scannerErrorOnly(string)?.offset == sixteenMiB)

        var digits = [UInt8](repeating: UInt8(ascii: "7"), count: sixteenMiB)
        let number = try JSONScanner.scan(digits)
        #expect(number.root.kind == .number && number.root.range == 0..<sixteenMiB)
        digits[0] = UInt8(ascii: "0")
        #expect(Self.scannerErrorOnly(digits)?.offset == 1)
        let body = Array(#"{"events": ["#.utf8) + digits.dropFirst() + Array("]}".utf8)
        let events = try JSONScanner.scan(body)
        let list = try #require(events.member("events", of: events.root))
        #expect(events.elements(of: list).map(\.range) == [12..<(12 + sixteenMiB - 1)])
    }

    static func scannerErrorOnly(_ text: [UInt8]) -> JSONScanError? {
        do {
            _ = try JSONScanner.scan(text)
            return nil
        } catch {
            return error
        }
    }
}
