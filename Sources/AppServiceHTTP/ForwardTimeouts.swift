/// How long the relay waits for a service when it forwards a homeserver's synchronous request
/// (a user or alias query, a ping): past ``connect`` or ``total`` the homeserver gets a 504
/// `M_CONNECTION_TIMEOUT` instead of waiting on. The daemon uses the defaults; tests shorten them.
///
/// ```swift
/// let app = try await Daemon.buildApplication(configuration: configuration, logger: logger,
///                                             forwardTimeouts: ForwardTimeouts(total: .seconds(10)))
/// ```
package struct ForwardTimeouts: Sendable {
    /// Establishing the connection to the service; the transactions' connections are bounded
    /// by it too. Default 5 s.
    package var connect: Duration
    /// The whole exchange, from sending the request to the answer's last byte. Default 30 s:
    /// below Synapse's own 60 s, so the homeserver gets asched's 504 rather than its own
    /// timeout, and its appservice loop (which waits on user queries) is held no longer.
    package var total: Duration

    /// The given bounds; the defaults are the daemon's.
    package init(connect: Duration = .seconds(5), total: Duration = .seconds(30)) {
        self.connect = connect
        self.total = total
    }
}
