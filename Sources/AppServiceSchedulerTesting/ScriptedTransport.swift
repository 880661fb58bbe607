import AppServiceScheduler
import Synchronization

/// A transport whose answers a test scripts, which records every attempt, and which can hold
/// attempts until the test releases them (to have a send "in flight").
///
/// ```swift
/// let transport = ScriptedTransport()
/// transport.script([.failed(reason: "500"), .failed(reason: "500")], for: "bridge")
/// transport.hold()         // later sends wait …
/// transport.releaseAll()   // … until now
/// ```
public final class ScriptedTransport: Transport {
    private struct Held {
        let transaction: OutgoingTransaction
        let continuation: CheckedContinuation<SendOutcome, Never>
    }

    private struct State {
        var scripts: [String: [SendOutcome]] = [:]
        var attempts: [OutgoingTransaction] = []
        var holding = false
        var held: [Held] = []
    }

    private let state = Mutex(State())

    /// A transport that delivers everything at once until told otherwise.
    public init() {}

    /// Every attempt so far, in the order they reached the transport.
    public var attempts: [OutgoingTransaction] { state.withLock { $0.attempts } }

    /// The outcomes of the next attempts for `service`, in order; after them, `.delivered`.
    public func script(_ outcomes: [SendOutcome], for service: String) {
        state.withLock { $0.scripts[service, default: []] += outcomes }
    }

    /// From now on, attempts wait until ``releaseAll()``.
    public func hold() {
        state.withLock { $0.holding = true }
    }

    /// Answers every held attempt (with its scripted outcome) and stops holding.
    public func releaseAll() {
        let held = state.withLock { state -> [(Held, SendOutcome)] in
            state.holding = false
            defer { state.held = [] }
            return state.held.map { ($0, Self.nextOutcome(for: $0.transaction.service, in: &state)) }
        }
        for (attempt, outcome) in held { attempt.continuation.resume(returning: outcome) }
    }

    public func send(_ transaction: OutgoingTransaction) async -> SendOutcome {
        await withCheckedContinuation { continuation in
            let outcome = state.withLock { state -> SendOutcome? in
                state.attempts.append(transaction)
                if state.holding {
                    state.held.append(Held(transaction: transaction, continuation: continuation))
                    return nil
                }
                return Self.nextOutcome(for: transaction.service, in: &state)
            }
            if let outcome { continuation.resume(returning: outcome) }
        }
    }

    private static func nextOutcome(for service: String, in state: inout State) -> SendOutcome {
        guard var script = state.scripts[service], !script.isEmpty else { return .delivered }
        let outcome = script.removeFirst()
        state.scripts[service] = script
        return outcome
    }
}
