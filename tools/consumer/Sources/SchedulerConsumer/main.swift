// The scheduler as a durable queue with the consumer's own Transport, through the public API
// only: 50 transactions to an in-process destination, then a reopen that replays the log.
import AppServiceScheduler
import Foundation
import Synchronization

func check(_ condition: Bool, _ message: String) {
    guard condition else {
        print("SchedulerConsumer: FAILED: \(message)")
        exit(1)
    }
}

/// Records every transaction it is given; refuses the very first attempt, to exercise recovery.
final class InProcessDestination: Transport {
    let received = Mutex<[OutgoingTransaction]>([])

    func send(_ transaction: OutgoingTransaction) async -> SendOutcome {
        let isFirst = received.withLock { received in
            received.append(transaction)
            return received.count == 1
        }
        return isFirst ? .failed(reason: "refused once on purpose") : .delivered
    }
}

let transactionCount = 50
let directory = FileManager.default.temporaryDirectory.appendingPathComponent("scheduler-consumer-\(getpid())").path
defer { try? FileManager.default.removeItem(atPath: directory) }
var configuration = SchedulerConfiguration()
configuration.backoff = BackoffPolicy(initial: .milliseconds(20), maximum: .milliseconds(100))
let services = [ServiceDescriptor(id: "orders")]
let destination = InProcessDestination()

let scheduler = try await AppServiceScheduler.open(directory: directory, services: services, transport: destination,
                                                   clock: SystemClock(), configuration: configuration)
// One event per transaction: the next is enqueued once the previous one completed.
func deliverOneByOne(_ count: Int, through scheduler: AppServiceScheduler) async throws {
    var events = await scheduler.events().makeAsyncIterator()
    for number in 1...count {
        _ = try await scheduler.enqueue(EventBatch(events: [Array(#"{"order":\#(number)}"#.utf8)]), for: "orders")
        while let event = await events.next() {
            if case .completed(_, let id) = event {
                check(id == UInt64(number), "transaction \(id) completed, expected \(number)")
                break
            }
        }
    }
}
try await deliverOneByOne(transactionCount, through: scheduler)
try await scheduler.close()

let delivered = destination.received.withLock { $0 }
check(delivered.count == transactionCount + 1, "\(delivered.count) attempts, expected \(transactionCount + 1)")
check(delivered[0].id == 1 && delivered[1].id == 1 && delivered[0].body == delivered[1].body,
      "the retry of transaction 1 is not the same transaction")
for (index, transaction) in delivered.dropFirst().enumerated() {
    let body = String(decoding: transaction.body, as: UTF8.self)
    check(transaction.id == UInt64(index + 1), "attempt \(index + 2) carried id \(transaction.id)")
    check(body.contains(#"{"order":\#(index + 1)}"#), "transaction \(transaction.id) has body \(body)")
}

let reopened = try await AppServiceScheduler.open(directory: directory, services: services, transport: destination,
                                                  clock: SystemClock(), configuration: configuration)
let state = await reopened.snapshot.services["orders"]
check(state?.lastCompletedTransactionID == UInt64(transactionCount), "replayed last completed id is wrong")
check(state?.nextTransactionID == UInt64(transactionCount + 1), "replayed next id is wrong")
check(state?.pending.isEmpty == true, "transactions are still pending after the replay")
try await reopened.close()
print("SchedulerConsumer: OK: \(transactionCount) transactions delivered (one retried), state replayed after reopen")
