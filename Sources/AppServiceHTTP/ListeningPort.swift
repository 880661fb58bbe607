import Foundation

/// The port a server reports once it listens, for whoever waits for it (a server started on
/// port 0 picks its own).
///
/// ```swift
/// let port = ListeningPort()
/// let app = try await Daemon.buildApplication(configuration: configuration, logger: logger) { await port.set($0) }
/// // … run `app` in a task, then:
/// let bound = await port.value()
/// ```
package actor ListeningPort {
    private var port: Int?
    private var waiting: [CheckedContinuation<Int, Never>] = []

    /// No port yet.
    package init() {}

    /// Reports the port; wakes everyone waiting.
    package func set(_ value: Int) {
        port = value
        for waiter in waiting { waiter.resume(returning: value) }
        waiting = []
    }

    /// The port, once reported.
    package func value() async -> Int {
        if let port { return port }
        return await withCheckedContinuation { waiting.append($0) }
    }
}

extension ListeningPort {
    /// Why no free loopback port could be had.
    package struct Unavailable: Error, CustomStringConvertible {
        package let description: String
    }

    /// A loopback port nothing listens on now: bound to port 0 and closed again, for a server in
    /// another process to listen on a moment later (another process taking it in between makes
    /// that server's start fail, not lie).
    package static func freeLoopback() throws(Unavailable) -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw Unavailable(description: "socket(): errno \(errno)") }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(descriptor, pointer, length) == 0 && getsockname(descriptor, pointer, &length) == 0
            }
        }
        guard bound else { throw Unavailable(description: "binding a loopback port: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
