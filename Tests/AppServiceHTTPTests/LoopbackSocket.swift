import Glibc

/// A TCP socket bound to a free loopback port, for as long as it lives: not listening, the port
/// refuses connections, and no other test's server can take it meanwhile (a port found by
/// binding and then closing could be reused at once by a test running in parallel); listening,
/// connections complete and nothing answers them.
final class LoopbackSocket: Sendable {
    let port: Int
    private let descriptor: Int32

    /// A socket bound to a free loopback port, listening when `listening`.
    init(listening: Bool = false) throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0
            }
        }
        guard descriptor >= 0, bound, !listening || listen(descriptor, 16) == 0 else {
            close(descriptor)
            throw SocketFailure(errno: errno)
        }
        self.descriptor = descriptor
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(descriptor) }

    struct SocketFailure: Error {
        let errno: Int32
    }
}
