import Foundation
import Hummingbird
import NIOCore

/// Reading a request body as a JSON object, with the API's limit and error answers.
enum RequestJSON {
    /// The body as a JSON object; throws 413 past `limit` bytes and 400 for anything but an object.
    static func object(of request: Request, limit: Int) async throws -> [String: Any] {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw HTTPAPIError.tooLarge(limit: limit)
        }
        return try object(parsing: Data(buffer.readableBytesView))
    }

    /// `data` as a JSON object; throws 400 `M_NOT_JSON` for anything but JSON and 400
    /// `M_BAD_JSON` for JSON that is not an object.
    static func object(parsing data: Data) throws -> [String: Any] {
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw HTTPAPIError.notJSON("the body is not JSON: \(error.localizedDescription)")
        }
        guard let object = parsed as? [String: Any] else { throw HTTPAPIError.badJSON("the body must be a JSON object") }
        return object
    }

    /// `object[key]` as a list of JSON objects, each serialized; empty when absent.
    static func items(_ key: String, in object: [String: Any]) throws -> [[UInt8]] {
        try objects(key, in: object).map(\.bytes)
    }

    /// `object[key]` as a list of JSON objects, each with its serialized bytes.
    static func objects(_ key: String, in object: [String: Any]) throws -> [(object: [String: Any], bytes: [UInt8])] {
        guard let value = object[key] else { return [] }
        guard let list = value as? [Any] else { throw HTTPAPIError.badJSON("\"\(key)\" must be a list of JSON objects") }
        return try list.enumerated().map { index, item in
            guard let event = item as? [String: Any] else {
                throw HTTPAPIError.badJSON("\"\(key)\"[\(index)] is not a JSON object")
            }
            return (event, Array(try JSONSerialization.data(withJSONObject: event, options: [.withoutEscapingSlashes])))
        }
    }

    /// A 200 answer with `object` as JSON.
    static func response(_ object: Any) throws -> Response {
        let body = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }
}
