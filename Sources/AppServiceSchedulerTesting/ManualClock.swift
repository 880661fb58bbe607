import AppServiceScheduler
import Synchronization

/// A clock that moves only when a test calls ``advance(by:)``. Sleepers whose deadline has
/// come wake in deadline order, and in the order they started sleeping on a tie.
///
/// ```swift
/// let clock = ManualClock()
/// // … a send fails; the recoverer sleeps until now + 2 s …
/// clock.advance(by: .seconds(2))   // the retry runs
/// ```
public final class ManualClock: SchedulerClock {
    private struct Sleeper {
        let deadline: SchedulerInstant
        let sequence: Int
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now: SchedulerInstant
        var nextSequence = 0
        var sleepers: [Int: Sleeper] = [:]
    }

    private let state: Mutex<State>

    /// A clock reading `start` (by default 2023-11-14T22:13:20Z, a round number of milliseconds).
    public init(start: SchedulerInstant = SchedulerInstant(millisecondsSinceEpoch: 1_700_000_000_000)) {
        state = Mutex(State(now: start))
    }

    public var now: SchedulerInstant { state.withLock { $0.now } }

    /// How many tasks are asleep on this clock.
    public var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    /// Moves time forward and wakes every sleeper whose deadline has come.
    public func advance(by duration: Duration) {
        precondition(duration >= .zero, "a manual clock only moves forward")
        let due = state.withLock { state -> [Sleeper] in
            state.now = state.now + duration
            let now = state.now
            let due = state.sleepers.values.filter { $0.deadline <= now }
                .sorted { ($0.deadline, $0.sequence) < ($1.deadline, $1.sequence) }
            for sleeper in due { state.sleepers[sleeper.sequence] = nil }
            return due
        }
        for sleeper in due { sleeper.continuation.resume() }
    }

    public func sleep(until deadline: SchedulerInstant) async throws {
        let sequence = state.withLock { state -> Int in
            defer { state.nextSequence += 1 }
            return state.nextSequence
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let immediate = state.withLock { state -> (any Error)?? in
                    if Task.isCancelled { return .some(CancellationError()) }
                    if deadline <= state.now { return .some(nil) }
                    state.sleepers[sequence] = Sleeper(deadline: deadline, sequence: sequence, continuation: continuation)
                    return nil
                }
                switch immediate {
                case .some(.some(let error)): continuation.resume(throwing: error)
                case .some(.none): continuation.resume()
                case .none: break
                }
            }
        } onCancel: {
            let sleeper = state.withLock { $0.sleepers.removeValue(forKey: sequence) }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }
}
