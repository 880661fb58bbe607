// A durable webhook queue, nothing Matrix about it: each subscriber is a service, each webhook an
// event, and the scheduler's transaction id becomes the idempotency key, since a retry carries
// the same id and the same body. What a run does not deliver stays queued on disk and goes out
// on the next run. Run: `swift run WebhookQueue [URL]` (default http://127.0.0.1:8080/webhook).
import AppServiceScheduler
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// POSTs each transaction's body, `{"events":[…]}`, to its subscriber's URL.
///
/// One attempt per call, bounded by its own timeout: retrying with backoff is the scheduler's
/// job, and a transport that retried by itself would stretch the one-in-flight window.
struct WebhookTransport: Transport {
    let endpoints: [String: URL]
    let timeoutSeconds: TimeInterval = 10

    func send(_ transaction: OutgoingTransaction) async -> SendOutcome {
        guard let url = endpoints[transaction.service] else {
            return .failed(reason: "no endpoint for subscriber \(transaction.service)")
        }
        var request = URLRequest(url: url, timeoutInterval: timeoutSeconds)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue("\(transaction.service)-\(transaction.id)", forHTTPHeaderField: "Idempotency-Key")
        request.httpBody = Data(transaction.body)
        do {
            let (_, response) = try await URLSession.shared.data(for: request)
            let status = (response as? HTTPURLResponse)?.statusCode ?? 0
            return (200..<300).contains(status) ? .delivered : .failed(reason: "HTTP \(status) from \(url)")
        } catch {
            return .failed(reason: "\(url): \(error.localizedDescription)")
        }
    }
}

let endpoint = URL(string: CommandLine.arguments.dropFirst().first ?? "http://127.0.0.1:8080/webhook")!
let directory = "webhook-queue"  // kept between runs: it is the queue
var configuration = SchedulerConfiguration()
configuration.backoff = BackoffPolicy(initial: .seconds(1), maximum: .seconds(60))

let queue = try await AppServiceScheduler.open(
    directory: directory, services: [ServiceDescriptor(id: "billing")],
    transport: WebhookTransport(endpoints: ["billing": endpoint]), clock: SystemClock(),
    configuration: configuration)
let events = await queue.events()

// Returns once the webhook is durable: from here on it is delivered even if this process dies.
let invoice = #"{"type":"invoice.paid","invoice":"in_1042","amount_cents":1999}"#
let position = try await queue.enqueue(EventBatch(events: [Array(invoice.utf8)]), for: "billing")
print("queued at log position \(position); delivering to \(endpoint)")

for await event in events {
    print("  \(event)")
    if case .retryScheduled = event {
        print("subscriber unreachable: the webhook stays queued in \(directory)/; run again to deliver it")
        break
    }
    if case .completed = event, await queue.snapshot.services["billing"]?.pending.isEmpty == true {
        print("delivered everything queued")
        break
    }
}
try await queue.close()
