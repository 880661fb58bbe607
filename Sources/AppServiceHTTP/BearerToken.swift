import HTTPTypes

/// Bearer tokens as the API's callers present them, and how they are compared.
enum BearerToken {
    /// The token of an `Authorization: Bearer <token>` header, or nil when there is none. The scheme
    /// name is case-insensitive (RFC 9110); the token is not.
    static func presented(in headers: HTTPFields) -> Substring? {
        let scheme = "bearer "
        guard let header = headers[.authorization], header.prefix(scheme.count).lowercased() == scheme else { return nil }
        return header.dropFirst(scheme.count)
    }

    /// Compares every byte whatever the first difference, so timing tells nothing but length.
    static func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        var difference = UInt8(lhs.count == rhs.count ? 0 : 1)
        for index in 0..<max(lhs.count, rhs.count) {
            difference |= (index < lhs.count ? lhs[index] : 0) ^ (index < rhs.count ? rhs[index] : 0)
        }
        return difference == 0
    }
}
