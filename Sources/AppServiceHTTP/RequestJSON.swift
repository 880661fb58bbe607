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
        let body = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }
}
