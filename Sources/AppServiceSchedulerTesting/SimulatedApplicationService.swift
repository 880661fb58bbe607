import AppServiceScheduler
import SegmentLogTesting
import Synchronization

/// Application services for crash simulations: they record every transaction that reaches
/// them, across process "lifetimes"; a send from a lifetime that has crashed is refused (a
/// killed process sends nothing). They can be DOWN, and can cut the power at the moment a send
/// arrives, the worst time for the scheduler.
public final class SimulatedApplicationService: Sendable {
    /// A transaction as it reached a service.
    public struct Received: Sendable {
        /// What arrived.
        public let transaction: OutgoingTransaction
        /// Whether it was accepted.
        public let delivered: Bool
    }

    private struct State {
        var lifetime = 0
        var received: [Received] = []
        var down: Set<String> = []
        var sendsUntilCrash: Int?
        var random: SeededRandom
    }

    private let state: Mutex<State>
    private let disk: SimulatedFileSystem

    /// Services whose power failures crash `disk`, drawing what survives from `seed`.
    public init(disk: SimulatedFileSystem, seed: UInt64) {
        self.disk = disk
        state = Mutex(State(random: SeededRandom(seed: seed)))
    }

    /// Every transaction that reached a service, in arrival order.
    public var received: [Received] { state.withLock { $0.received } }

    /// Marks `service` DOWN (it answers every send with a failure) or UP.
    public func setDown(_ service: String, _ down: Bool) {
        state.withLock { state in
            if down { state.down.insert(service) } else { state.down.remove(service) }
        }
    }

    /// The power fails now: unsynced writes are lost and the process is dead.
    public func crash() {
        state.withLock { state in
            state.lifetime += 1
            state.sendsUntilCrash = nil
            disk.crash(using: &state.random)
        }
    }

    /// Starts a new process lifetime after a crash the disk suffered by itself (an injected fault).
    public func restart() {
        state.withLock { state in
            state.lifetime += 1
            state.sendsUntilCrash = nil
        }
    }

    /// The power fails at the moment the `count`-th send from now reaches a service.
    public func crash(atSend count: Int) {
        state.withLock { $0.sendsUntilCrash = count }
    }

    /// A transport for the current lifetime.
    public func transport() -> some Transport {
        LifetimeTransport(service: self, lifetime: state.withLock { $0.lifetime })
    }

    fileprivate func receive(_ transaction: OutgoingTransaction, lifetime: Int) -> SendOutcome {
        state.withLock { state in
            guard lifetime == state.lifetime else { return .failed(reason: "the process is dead") }
            if let left = state.sendsUntilCrash {
                state.sendsUntilCrash = left - 1
                if left == 1 {
                    state.received.append(Received(transaction: transaction, delivered: false))
                    state.lifetime += 1
                    state.sendsUntilCrash = nil
                    disk.crash(using: &state.random)
                    return .failed(reason: "the process is dead")
                }
            }
            let down = state.down.contains(transaction.service)
            state.received.append(Received(transaction: transaction, delivered: !down))
            return down ? .failed(reason: "HTTP 503 from \(transaction.service)") : .delivered
        }
    }
}

private struct LifetimeTransport: Transport {
    let service: SimulatedApplicationService
    let lifetime: Int

    func send(_ transaction: OutgoingTransaction) async -> SendOutcome {
        service.receive(transaction, lifetime: lifetime)
    }
}
