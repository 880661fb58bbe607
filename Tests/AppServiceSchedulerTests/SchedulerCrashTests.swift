import AppServiceScheduler
import AppServiceSchedulerTesting
import Foundation
import SegmentLog
import SegmentLogTesting
import Synchronization
import Testing

/// The scheduler on the simulated disk, crashed at random points and reopened: every
/// acknowledged event is delivered under exactly one transaction id, in enqueue order; ids
/// only grow; a repeated id always carries an identical body.
@Suite struct SchedulerCrashTests {
    /// What the application services received, across process "lifetimes". A send from a
    /// lifetime that has crashed is refused, as a killed process sends nothing.
    final class Deliveries: Sendable {
        struct Received: Sendable {
            let transaction: OutgoingTransaction
            let delivered: Bool
        }

        private struct State {
            var lifetime = 0
            var received: [Received] = []
            var failNext: [String: Int] = [:]
            var sendsUntilCrash: Int?
            var random: SeededRandom
        }

        private let state: Mutex<State>
        private let disk: SimulatedFileSystem

        init(disk: SimulatedFileSystem, seed: UInt64) {
            self.disk = disk
            state = Mutex(State(random: SeededRandom(seed: seed)))
        }

        var received: [Received] { state.withLock { $0.received } }

        /// The power fails now: unsynced writes are lost and the process is dead.
        func crash() {
            state.withLock { state in
                state.lifetime += 1
                state.sendsUntilCrash = nil
                disk.crash(using: &state.random)
            }
        }

        /// The power fails at the moment the `count`-th send from now reaches a service.
        func crash(atSend count: Int) { state.withLock { $0.sendsUntilCrash = count } }
        func fail(_ service: String) { state.withLock { $0.failNext[service, default: 0] += 1 } }

        func transport() -> some Transport {
            LifetimeTransport(deliveries: self, lifetime: state.withLock { $0.lifetime })
        }

        fileprivate func receive(_ transaction: OutgoingTransaction, lifetime: Int) -> SendOutcome {
            state.withLock { state in
                guard lifetime == state.lifetime else { return .failed(reason: "process is dead") }
                if let left = state.sendsUntilCrash {
                    state.sendsUntilCrash = left - 1
                    if left == 1 {
                        state.received.append(Received(transaction: transaction, delivered: false))
                        state.lifetime += 1
                        state.sendsUntilCrash = nil
                        disk.crash(using: &state.random)
                        return .failed(reason: "process is dead")
                    }
                }
                let failing = state.failNext[transaction.service, default: 0] > 0
                if failing { state.failNext[transaction.service]! -= 1 }
                state.received.append(Received(transaction: transaction, delivered: !failing))
                return failing ? .failed(reason: "HTTP 500") : .delivered
            }
        }
    }

    struct LifetimeTransport: Transport {
        let deliveries: Deliveries
        let lifetime: Int

        func send(_ transaction: OutgoingTransaction) async -> SendOutcome {
            deliveries.receive(transaction, lifetime: lifetime)
        }
    }

    static let services = [ServiceDescriptor(id: "irc", receivesEphemeral: true), ServiceDescriptor(id: "slack")]

    @Test(arguments: 0..<40)
    func acknowledgedEventsAreDeliveredOnceInOrderAcrossCrashes(seed: UInt64) async throws {
        var random = SeededRandom(seed: seed)
        let disk = SimulatedFileSystem()
        let clock = ManualClock()
        let deliveries = Deliveries(disk: disk, seed: seed)
        var configuration = SchedulerConfiguration()
        configuration.limits = TransactionLimits(eventsMax: 4, ephemeralMax: 3, toDeviceMax: 1)
        configuration.log.fileSystem = disk
        configuration.log.segmentSizeBytes = 2048
        configuration.log.preallocation = seed % 2 == 0 ? .none : .allocate
        configuration.log.syncPolicy = .always
        var acknowledged: [String: [Int]] = [:]
        var number = 0

        for _ in 0..<Int.random(in: 2...5, using: &random) {
            let scheduler = try await AppServiceScheduler.open(directory: "/data", services: Self.services,
                                                               transport: deliveries.transport(), clock: clock,
                                                               configuration: configuration)
            if Bool.random(using: &random) { deliveries.crash(atSend: Int.random(in: 1...8, using: &random)) }
            for _ in 0..<Int.random(in: 1...30, using: &random) {
                let service = Self.services.randomElement(using: &random)!.id
                switch Int.random(in: 0..<10, using: &random) {
                case 0: deliveries.fail(service)
                case 1: clock.advance(by: .seconds(Int64.random(in: 1...30, using: &random)))
                default:
                    number += 1
                    let ephemeral = service == "irc" && Bool.random(using: &random)
                    let batch = ephemeral ? EventBatch(ephemeral: [event(number)]) : EventBatch(events: [event(number)])
                    if (try? await scheduler.enqueue(batch, for: service)) != nil {
                        acknowledged[service + (ephemeral ? "/ephemeral" : ""), default: []].append(number)
                    }
                }
            }
            deliveries.crash()
        }

        let scheduler = try await AppServiceScheduler.open(directory: "/data", services: Self.services,
                                                           transport: deliveries.transport(), clock: clock,
                                                           configuration: configuration)
        try await drain(scheduler, clock: clock)
        try await scheduler.close()
        check(deliveries.received, acknowledged: acknowledged, seed: seed)
    }

    /// Advances time until every service is UP with nothing pending or queued.
    func drain(_ scheduler: AppServiceScheduler, clock: ManualClock) async throws {
        let watcher = await EventWatcher.watching(scheduler)
        while await !scheduler.snapshot.services.values.allSatisfy({ $0.status == .up && $0.pending.isEmpty && $0.queued.isEmpty }) {
            clock.advance(by: .seconds(600))
            try await watcher.next { _ in true }
        }
    }

    func check(_ received: [Deliveries.Received], acknowledged: [String: [Int]], seed: UInt64) {
        var bodies: [String: [UInt64: [UInt8]]] = [:]
        var firstSeenIDs: [String: [UInt64]] = [:]
        for delivery in received {
            let transaction = delivery.transaction
            if let known = bodies[transaction.service]?[transaction.id] {
                #expect(String(decoding: known, as: UTF8.self) == String(decoding: transaction.body, as: UTF8.self),
                        "seed \(seed): \(transaction.service) transaction \(transaction.id) changed its body")
            } else {
                bodies[transaction.service, default: [:]][transaction.id] = transaction.body
                firstSeenIDs[transaction.service, default: []].append(transaction.id)
            }
        }
        for (service, ids) in firstSeenIDs {
            #expect(ids == ids.sorted() && Set(ids).count == ids.count, "seed \(seed): \(service) ids out of order: \(ids)")
        }
        for (key, numbersAcknowledged) in acknowledged {
            let parts = key.split(separator: "/")
            let service = String(parts[0])
            let field = parts.count > 1 ? "ephemeral" : "events"
            let inIDOrder = (bodies[service] ?? [:]).sorted { $0.key < $1.key }.flatMap { numbers(in: $0.value, key: field) }
            #expect(Set(inIDOrder).count == inIDOrder.count, "seed \(seed): an event of \(key) went out under two ids")
            #expect(inIDOrder == inIDOrder.sorted(), "seed \(seed): \(key) delivered out of enqueue order")
            let missing = Set(numbersAcknowledged).subtracting(inIDOrder)
            #expect(missing.isEmpty, "seed \(seed): acknowledged \(key) events never delivered: \(missing.sorted())")
        }
    }
}
