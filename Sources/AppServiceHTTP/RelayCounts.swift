/// A service's relayed transactions since the daemon started: kept in memory, so they start
/// at 0 with every process (Prometheus counters behave the same way).
package struct RelayCounts: Sendable, Equatable {
    /// Transactions a homeserver pushed that were answered `200 {}`, duplicates included.
    package var received = 0
    /// Those that were retries of a transaction already stored, and wrote nothing.
    package var deduplicated = 0

    /// No transactions yet.
    package init() {}
}
