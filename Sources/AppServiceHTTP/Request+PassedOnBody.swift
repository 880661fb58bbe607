import Hummingbird
import NIOCore

extension Request {
    /// The body to send on to another server: none for GET and HEAD; 413 past `limit` bytes.
    func passedOnBody(limit: Int) async throws -> ByteBuffer? {
        guard method != .get && method != .head else { return nil }
        do {
            return try await body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw HTTPAPIError.tooLarge(limit: limit)
        }
    }
}
