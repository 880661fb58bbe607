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
