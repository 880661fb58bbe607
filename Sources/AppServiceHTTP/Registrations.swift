import Synchronization

/// The registrations in force, shared by everything that reads them: the Matrix transport (each
/// delivery attempt's `url` and `hs_token`), the relay's hs_token check, forwarding, and routing
/// by namespace. A reload (SIGHUP) replaces them all at once, so a changed `url` or `hs_token`
/// applies to the next attempt or request and a removed service's relay routes answer 404.
///
/// ```swift
/// let registrations = Registrations(configuration.registrations)
/// let bridge = registrations["irc"]          // nil once a reload removed it
/// registrations.replace(with: reloaded.registrations)
/// ```
package final class Registrations: Sendable {
    /// What one reload installs: the list, its index by id, and a routing memo of its own, so
    /// no answer computed for the old namespaces survives a reload.
    struct Generation: Sendable {
        let list: [Registration]
        let byID: [String: Registration]
        let answers = AnswerCache()

        init(_ list: [Registration]) {
            precondition(Set(list.map(\.id)).count == list.count, "registrations must have distinct ids")
            self.list = list
            byID = Dictionary(uniqueKeysWithValues: list.map { ($0.id, $0) })
        }
    }

    /// Guarded by its own lock: read on every request and delivery, written by reloads.
    private let current: Mutex<Generation>

    /// Holds `registrations`, whose ids must be distinct.
    package init(_ registrations: [Registration]) {
        current = Mutex(Generation(registrations))
    }

    /// The registration of service `id`, or nil when none is in force.
    package subscript(id: String) -> Registration? {
        current.withLock { $0.byID[id] }
    }

    /// Every registration in force, in configuration order.
    package var all: [Registration] { current.withLock { $0.list } }

    /// The registrations in force, with their routing memo, as one consistent value.
    var generation: Generation { current.withLock { $0 } }

    /// Puts `registrations` in force, replacing every earlier one; their ids must be distinct.
    package func replace(with registrations: [Registration]) {
        let generation = Generation(registrations)
        current.withLock { $0 = generation }
    }
}
