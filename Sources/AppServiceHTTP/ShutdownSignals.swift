import Dispatch
import Foundation
import ServiceLifecycle
import Synchronization

/// SIGTERM and SIGINT over the whole life of `asched serve`: they shut down gracefully whichever
/// service group runs (the daemon's or a standby's), and end the process at once between groups,
/// while a store opens or replays, where nothing is yet to be answered or synced. A group's own
/// signal handling sees neither a signal between groups nor one that arrives while the daemon
/// steps down (its group already shutting down), which would leave the instance standing by
/// when it was told to stop; ``requested`` says it was.
package final class ShutdownSignals: Sendable {
    private struct State {
        var requested = false
        var group: ServiceGroup?
    }

    private let state = Mutex(State())
    /// Kept until the process ends: a source cancelled while a shutdown runs would let the next
    /// signal go unanswered. Set up in `init`, armed once by ``install()``, never changed.
    nonisolated(unsafe) private let sources = [SIGTERM, SIGINT].map { DispatchSource.makeSignalSource(signal: $0) }

    package init() {}

    /// Catches SIGTERM and SIGINT from now on; called once.
    package func install() {
        for source in sources {
            // The source, not the default action, decides from here on.
            signal(Int32(source.handle), SIG_IGN)
            source.setEventHandler { [self] in received() }
            source.resume()
        }
    }

    /// Whether SIGTERM or SIGINT asked the process to stop.
    package var requested: Bool { state.withLock { $0.requested } }

    /// Runs `group` (configured with no signals of its own) until it ends; a signal, before it
    /// starts or while it runs, shuts it down gracefully.
    package func run(_ group: ServiceGroup) async throws {
        let alreadyRequested = state.withLock { state in
            state.group = group
            return state.requested
        }
        defer { state.withLock { $0.group = nil } }
        if alreadyRequested { await group.triggerGracefulShutdown() }
        try await group.run()
    }

    private func received() {
        let group = state.withLock { state in
            state.requested = true
            return state.group
        }
        guard let group else { exit(0) }
        Task { await group.triggerGracefulShutdown() }
    }
}
