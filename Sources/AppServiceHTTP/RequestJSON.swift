import Foundation
import Hummingbird
import NIOCore

/// Reading a request body as a JSON object, with the API's limit and error answers; items are
/// kept as the bytes the client sent (``JSONScanner``), never parsed into objects and serialized again.
enum RequestJSON {
    /// The body, checked by ``JSONScanner``, whose top-level value is an object; throws 413 past
    /// `limit` bytes and 400 for anything but a JSON object.
    static func document(of request: Request, limit: Int) async throws -> JSONDocument {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw HTTPAPIError.tooLarge(limit: limit)
        }
        return try document(parsing: Array(buffer.readableBytesView))
    }

    /// `bytes` checked by ``JSONScanner``; throws 400 `M_NOT_JSON` for anything but JSON (naming
    /// the byte where it stops being JSON) and 400 `M_BAD_JSON` for JSON that is not an object.
    static func document(parsing bytes: [UInt8]) throws -> JSONDocument {
        let document: JSONDocument
        do {
            document = try JSONScanner.scan(bytes)
        } catch {
            throw HTTPAPIError.notJSON("the body is not JSON: \(error)")
        }
        guard document.root.kind == .object else { throw HTTPAPIError.badJSON("the body must be a JSON object") }
        return document
    }

    /// The body's member `key` as a list of JSON objects, each as the bytes the client sent;
    /// empty when absent.
    static func items(_ key: String, in document: JSONDocument) throws -> [[UInt8]] {
        try objects(key, in: document).map { Array(document[$0]) }
    }

    /// The body's member `key` as a list of JSON objects; empty when absent.
    static func objects(_ key: String, in document: JSONDocument) throws -> [JSONValue] {
        guard let value = document.member(key, of: document.root) else { return [] }
        guard value.kind == .array else { throw HTTPAPIError.badJSON("\"\(key)\" must be a list of JSON objects") }
        let list = document.elements(of: value)
        if let index = list.firstIndex(where: { $0.kind != .object }) {
            throw HTTPAPIError.badJSON("\"\(key)\"[\(index)] is not a JSON object")
        }
        return list
    }

    /// A 200 answer with `object` as JSON.
    static func response(_ object: Any) throws -> Response {
        // The relay answers `{}` to every transaction: not worth Foundation's object graph.
        if let object = object as? [String: Any], object.isEmpty { return response(bytes: Array("{}".utf8)) }
        let body = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return response(bytes: Array(body))
    }

    /// A 200 answer `{"<key>":{"<name>":<count>,...}}`, names sorted, as ``response(_:)`` writes
    /// it: the answer to every routed request, written without Foundation (5% of the daemon's
    /// CPU at full ingest when it was).
    static func response(counts: [String: Int], under key: String) -> Response {
        var body: [UInt8] = [UInt8(ascii: "{")]
        appendString(key, to: &body)
        body += Array(":{".utf8)
        for (index, (name, count)) in counts.sorted(by: { $0.key < $1.key }).enumerated() {
            if index > 0 { body.append(UInt8(ascii: ",")) }
            appendString(name, to: &body)
            body += Array(":\(count)".utf8)
        }
        return response(bytes: body + Array("}}".utf8))
    }

    private static func response(bytes: [UInt8]) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// `string` as a JSON string: quote, backslash and control characters escaped, the rest as is.
    private static func appendString(_ string: String, to body: inout [UInt8]) {
        body.append(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): body += [UInt8(ascii: "\\"), byte]
            case 0..<0x20: body += Array("\\u00".utf8) + Array(JSONScanner.hex(byte, digits: 2).lowercased().utf8)
            default: body.append(byte)
            }
        }
        body.append(UInt8(ascii: "\""))
    }
}
