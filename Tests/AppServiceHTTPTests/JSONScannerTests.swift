import AppServiceHTTP
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import ServiceLifecycle
import Testing

/// ``JSONScanner``: what it accepts and refuses (with the byte and what was expected), the
/// values it records, and the API storing items as the bytes the client sent.
@Suite struct JSONScannerTests {
    static func scan(_ text: String) throws(JSONScanError) -> JSONDocument {
        try JSONScanner.scan(Array(text.utf8))
    }

    static func refusal(_ bytes: [UInt8]) -> JSONScanError? {
        do {
            _ = try JSONScanner.scan(bytes)
            return nil
        } catch {
            return error
        }
    }

    @Test func valuesAreRecordedAsTheBytesSent() throws {
        let text = #"{ "events" : [ {"b": 2, "a" : "x\/y"} ,{} ], "n": -1.5e+3, "t": true, "z": null }"#
        let document = try Self.scan(text)
        #expect(document.root.kind == .object && document.root.range == 0..<text.utf8.count)
        let events = try #require(document.member("events", of: document.root))
        let elements = document.elements(of: events)
        #expect(elements.map { String(decoding: document[$0], as: UTF8.self) } == [#"{"b": 2, "a" : "x\/y"}"#, "{}"])
        #expect(document.member("a", of: elements[0]).flatMap(document.string) == "x/y")
        #expect(document.members(of: elements[0]).map(\.name) == ["b", "a"])
        #expect(document.members(of: elements[1]).isEmpty)
        #expect(document.member("n", of: document.root).map { String(decoding: document[$0], as: UTF8.self) } == "-1.5e+3")
        #expect(document.member("n", of: document.root)?.kind == .number)
        #expect(document.member("t", of: document.root)?.kind == .bool)
        #expect(document.member("z", of: document.root)?.kind == .null)
        #expect(document.member("missing", of: document.root) == nil)
    }

    @Test func stringsAndNamesAreDecoded() throws {
        let document = try Self.scan(#"{"s\u0065nder": "\u00e9\n\t\"\\\/\uD83D\uDE00 é☃😀", "sender2": "plain"}"#)
        let sender = try #require(document.member("sender", of: document.root))
        #expect(document.string(sender) == "é\n\t\"\\/😀 é☃😀")
        #expect(document.member("sender2", of: document.root).flatMap(document.string) == "plain")
        #expect(document.member("sende", of: document.root) == nil)
        #expect(document.members(of: document.root).map(\.name) == ["sender", "sender2"])
    }

    /// RFC 8259 §4: names SHOULD be unique; a lookup takes the last, as Foundation does.
    @Test func aRepeatedNameIsTheLastOne() throws {
        let document = try Self.scan(#"{"a": 1, "b": 2, "\u0061": 3}"#)
        #expect(document.member("a", of: document.root).map { Array(document[$0]) } == Array("3".utf8))
        #expect(document.members(of: document.root).count == 3)
    }

    @Test(arguments: [
        (#"{"a":1 "b":2}"#, 7, "expected ',' or '}' after an object member"),
        ("", 0, "expected a JSON value, found the end of the body"),
        ("  ", 2, "expected a JSON value, found the end of the body"),
        ("[1,]", 3, "expected a JSON value"),
        ("[1 2]", 3, "expected ',' or ']' after an array element"),
        (#"{"a":01}"#, 6, "a number cannot have a leading zero"),
        ("-", 1, "expected a digit"),
        ("1.", 2, "expected a digit after the decimal point"),
        ("1e+", 3, "expected a digit in the exponent"),
        (".5", 0, "expected a JSON value"),
        ("tru", 3, "expected 'true', found the end of the body"),
        ("nul1", 3, "expected 'null'"),
        (#"{"a" 1}"#, 5, "expected ':' after a member name"),
        ("{,}", 1, "expected a member name (a string) or '}'"),
        (#"{"a":1,}"#, 7, "expected a member name (a string) after ','"),
        ("[1] x", 4, "expected the end of the body after the top-level value"),
        (#""abc"#, 4, "expected '\"' to close the string at byte 0"),
        (#""\uD800""#, 7, "expected a low surrogate escape"),
        (#""\uD800\u0041""#, 7, "expected a low surrogate escape"),
        (#""\uDC00""#, 1, "is a low surrogate without a high one"),
        (#""\u12G4""#, 5, "expected 4 hex digits after \\u"),
        (#""\x""#, 2, "expected one of"),
        ("\"a\nb\"", 2, "control character U+000A must be escaped"),
        ("\"a\u{7F}b\"", -1, ""),
    ] as [(String, Int, String)])
    func refusalsNameTheByteAndWhatWasExpected(text: String, offset: Int, problem: String) {
        let error = Self.refusal(Array(text.utf8))
        if offset < 0 {
            #expect(error == nil, "\(text) is JSON")
        } else {
            #expect(error?.offset == offset, "\(text): \(error.map { "\($0)" } ?? "accepted")")
            #expect(error?.problem.contains(problem) == true, "\(text): \(error.map { "\($0)" } ?? "accepted")")
            #expect(error.map { "\($0)" }?.hasPrefix("byte \(offset): ") == true)
        }
    }

    /// UTF-8 only (RFC 8259 §8.1), well-formed per Unicode's Table 3-7.
    @Test(arguments: [
        ([0xEF, 0xBB, 0xBF, 0x7B, 0x7D], 0, "byte-order mark"),
        ([0x7B, 0x00, 0x7D, 0x00], 0, "UTF-16 or UTF-32"),
        ([0x00, 0x00, 0x00, 0x7B], 0, "UTF-16 or UTF-32"),
        ([0x22, 0xC0, 0xAF, 0x22], 1, "overlong"),
        ([0x22, 0xE0, 0x80, 0xAF, 0x22], 2, "overlong"),
        ([0x22, 0xF0, 0x80, 0x80, 0xAF, 0x22], 2, "overlong"),
        ([0x22, 0xED, 0xA0, 0x80, 0x22], 2, "surrogate"),
        ([0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], 2, "beyond U+10FFFF"),
        ([0x22, 0xF5, 0x80, 0x80, 0x80, 0x22], 1, "not a UTF-8 byte"),
        ([0x22, 0x80, 0x22], 1, "did not begin"),
        ([0x22, 0xE2, 0x82, 0x22], 3, "continuation"),
        ([0x22, 0xE2, 0x82], 3, "the rest of a UTF-8 character, found the end"),
        ([0x22, 0xFF, 0x22], 1, "not a UTF-8 byte"),
        ([0xFF, 0xFE, 0x7B, 0x00], 0, "UTF-16 or UTF-32"),
    ] as [([UInt8], Int, String)])
    func onlyWellFormedUTF8(bytes: [UInt8], offset: Int, problem: String) {
        let error = Self.refusal(bytes)
        #expect(error?.offset == offset, "\(bytes): \(error.map { "\($0)" } ?? "accepted")")
        #expect(error?.problem.contains(problem) == true, "\(bytes): \(error.map { "\($0)" } ?? "accepted")")
    }

    @Test func wellFormedUTF8IsAccepted() throws {
        for character in ["\u{80}", "\u{7FF}", "\u{800}", "\u{D7FF}", "\u{E000}", "\u{FFFD}", "\u{10000}", "\u{10FFFF}"] {
            let document = try Self.scan("\"" + character + "\"")
            #expect(document.string(document.root) == character)
        }
    }

    /// The 8-byte fast path stops on each byte that needs a look, wherever it is in the word.
    @Test func everySpecialByteIsSeenAtEveryPosition() {
        let special: [(byte: UInt8, accepted: Bool)] = [(0x22, false), (0x5C, false), (0x00, false), (0x1F, false),
                                                        (0x80, false), (0xC3, false), (0x7F, true), (0x20, true)]
        for length in 1...24 {
            for position in 0..<length {
                for (byte, accepted) in special {
                    var text: [UInt8] = [0x22] + Array(repeating: UInt8(ascii: "a"), count: length) + [0x22]
                    text[1 + position] = byte
                    // A quote in the middle ends the string early, leaving bytes after it.
                    #expect((Self.refusal(text) == nil) == accepted, "byte \(byte) at \(position) of \(length)")
                }
            }
        }
    }

    @Test func nestingIsLimitedTo64() throws {
        let deepest = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(throws: Never.self) { try Self.scan(deepest) }
        let deeper = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        let error = Self.refusal(Array(deeper.utf8))
        #expect(error?.offset == 64 && error?.problem.contains("more than 64 nested arrays and objects") == true)
        let objects = String(repeating: #"{"a":"#, count: 65) + "1" + String(repeating: "}", count: 65)
        #expect(Self.refusal(Array(objects.utf8))?.offset == 64 * 5)
    }

    /// The API: items are stored as the bytes the client sent (spacing, escapes, key order, number
    /// spelling), and routing reads `sender` from them, escaped names included.
    @Test func itemsReachTheServiceAsTheClientSentThem() async throws {
        let service = LoopbackServiceTests.ScriptedService(answers: [])
        let port = ListeningPort()
        let serviceGroup = ServiceGroup(configuration: .init(services: [service.application { await port.set($0) }],
                                                             logger: Logger(label: "as")))
        let running = Task { try await serviceGroup.run() }
        let directory = try Fixtures.scratchDirectory(files: ["registration.yaml": """
            id: bridge
            url: http://127.0.0.1:\(await port.value())
            as_token: as_secret
            hs_token: hs_secret
            sender_localpart: bridgebot
            namespaces:
              users: [{regex: "@bridge_.*", exclusive: true}]
            """])
        var configuration = try DaemonConfiguration(yaml: "registrations: [registration.yaml]", file: directory + "/asched.yaml")
        configuration.dataDirectory = directory + "/data"
        configuration.ingestToken = "ingest"
        let app = try await Daemon.buildApplication(configuration: configuration, logger: Logger(label: "daemon"))
        let first = #"{ "type" : "m.room.message",  "sender":"@bridge_amy:example.org" , "content":{"n":1.50E+3,"body":"a\/b \u00e9 ☃"} }"#
        let second = #"{"s\u0065nder": "@bridge_bob:example.org", "type": "m.room.message"}"#
        let other = #"{"sender": "@someone:example.org", "type": "m.room.message"}"#
        try await app.test(.live) { client in
            try await client.execute(uri: "/_asched/v1/events", method: .post, headers: [.authorization: "Bearer ingest"],
                                     body: ByteBuffer(string: "{\"events\": [\(first),\n\(other), \(second)]}")) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == #"{"routed":{"bridge":2}}"#)
            }
            await service.waitForRequests(1)
        }
        await serviceGroup.triggerGracefulShutdown()
        try await running.value
        let received = try #require(service.received.first)
        let body = String(decoding: received.body, as: UTF8.self)
        #expect(body.contains("[" + first + "," + second + "]"), "\(body)")
    }

    @Test func notJSONAndWrongShapesKeepTheirCodes() async throws {
        let directory = try Fixtures.scratchDirectory(files: [:])
        var configuration = DaemonConfiguration()
        configuration.dataDirectory = directory + "/data"
        configuration.ingestToken = "ingest"
        let app = try await Daemon.buildApplication(configuration: configuration, logger: Logger(label: "daemon"))
        try await app.test(.router) { client in
            for (body, code, detail) in [(#"{"events": [1,]}"#, "M_NOT_JSON", "byte 14: expected a JSON value"),
                                         (#"{"events": "\uDE00"}"#, "M_NOT_JSON", "byte 12: expected a character"),
                                         (#"[{"events": []}]"#, "M_BAD_JSON", "must be a JSON object"),
                                         (#"{"events": [1]}"#, "M_BAD_JSON", "\"events\"[0] is not a JSON object"),
                                         (#"{"event": []}"#, "M_BAD_JSON", "missing \"events\"")] {
                try await client.execute(uri: "/_asched/v1/events", method: .post, headers: [.authorization: "Bearer ingest"],
                                         body: ByteBuffer(string: body)) { response in
                    #expect(response.status == .badRequest)
                    let json = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
                    #expect(json?["errcode"] as? String == code, "\(body)")
                    #expect((json?["error"] as? String)?.contains(detail) == true, "\(body): \(json?["error"] ?? "")")
                }
            }
        }
    }
}
