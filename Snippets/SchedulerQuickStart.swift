// Embed the scheduler as a durable delivery queue: enqueue events, watch a service go DOWN
// and recover, then reopen the log and see the state replayed. Run: `swift run SchedulerQuickStart`.
import AppServiceScheduler
import Foundation
import Synchronization

/// A stand-in application service that refuses the first two attempts, then accepts.
final class FlakyService: Transport {
    let refusalsLeft = Mutex(2)

    func send(_ transaction: OutgoingTransaction) async -> SendOutcome {
        let refuse = refusalsLeft.withLock { left in
            defer { left = max(0, left - 1) }
            return left > 0
        }
        print("  AS received transaction \(transaction.id) (attempt \(transaction.attempt), \(transaction.body.count) bytes)")
        return refuse ? .failed(reason: "HTTP 503 from the stand-in service") : .delivered
    }
}

let directory = FileManager.default.temporaryDirectory.appendingPathComponent("scheduler-quickstart-\(getpid())").path
var configuration = SchedulerConfiguration()
configuration.backoff = BackoffPolicy(initial: .milliseconds(200), maximum: .seconds(2))
let services = [ServiceDescriptor(id: "bridge", receivesEphemeral: true)]

let scheduler = try await AppServiceScheduler.open(directory: directory, services: services,
                                                   transport: FlakyService(), clock: SystemClock(),
                                                   configuration: configuration)
let events = await scheduler.events()

// Enqueue returns once the events are durable in the log.
for number in 1...3 {
    let event = Array(#"{"type":"m.room.message","room_id":"!r:example.org","content":{"body":"hello \#(number)"}}"#.utf8)
    let position = try await scheduler.enqueue(EventBatch(events: [event]), for: "bridge")
    print("enqueued event \(number) at log position \(position)")
}

// The first send fails: DOWN, retry after 200 ms, fail, retry after 400 ms, deliver, UP.
for await event in events {
    print("event: \(event)")
    if case .up = event { break }
}
let state = await scheduler.snapshot.services["bridge"]!
print("bridge is \(state.status), last completed transaction \(state.lastCompletedTransactionID ?? 0)")
try await scheduler.close()

// Reopening replays the log: the state is the fold of the records.
let reopened = try await AppServiceScheduler.open(directory: directory, services: services,
                                                  transport: FlakyService(), clock: SystemClock(),
                                                  configuration: configuration)
print("after reopen: next transaction id \(await reopened.snapshot.services["bridge"]!.nextTransactionID)")
try await reopened.close()
try FileManager.default.removeItem(atPath: directory)
