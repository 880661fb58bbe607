import AppServiceScheduler
import AppServiceSchedulerTesting
import Foundation
import SegmentLog
import Testing

/// Relayed transactions: stored once whatever the homeserver retries, remembered across restarts
/// and compaction, delivered with the fields the registration asks for.
@Suite struct SchedulerRelayTests {
    /// An event with an id, serialized with an `unsigned.age` as Synapse does on every attempt.
    static func relayedEvent(_ number: Int, age: Int = 0) -> [UInt8] {
        Array("{\"event_id\":\"$e\(number)\",\"type\":\"m.room.message\",\"content\":{\"n\":\(number)},\"unsigned\":{\"age\":\(age)}}".utf8)
    }

    static func transaction(_ id: String, _ numbers: [Int], age: Int = 0, ephemeral: [[UInt8]] = [],
                            deviceData: [[UInt8]] = []) -> RelayedTransaction {
        RelayedTransaction(transactionID: id, eventIDs: numbers.map { "$e\($0)" },
                           items: EventBatch(events: numbers.map { relayedEvent($0, age: age) }, ephemeral: ephemeral,
                                             deviceData: deviceData))
    }

    static func relayedRecords(_ harness: SchedulerHarness) throws -> [String] {
        try harness.records().compactMap { _, record in
            if case .relayed(_, let transaction, _, _, _) = record { transaction } else { nil }
        }
    }

    @Test(arguments: [false, true])
    func aRetryWithRebuiltBytesWritesNothingAndIsDeliveredOnce(realDisk: Bool) async throws {
        let harness = SchedulerHarness(realDisk: realDisk)
        let scheduler = try await harness.open()
        let watcher = await EventWatcher.watching(scheduler)
        let first = try await scheduler.relay(Self.transaction("17", [1, 2]), for: "bridge")
        guard case .stored = first else { Issue.record("first push: \(first)"); return }
        let appended = await scheduler.logStatistics.appendedRecords
        #expect(try await scheduler.relay(Self.transaction("17", [2, 1], age: 5_000), for: "bridge") == .duplicate)
        #expect(await scheduler.logStatistics.appendedRecords == appended)
        try await watcher.completed(1)
        #expect(harness.transport.attempts.map { numbers(in: $0.body) } == [[1, 2]])
        try await scheduler.close()
        #expect(try Self.relayedRecords(harness) == ["17"])
    }

    @Test func theSameIdWithOtherEventsIsNewData() async throws {
        let harness = SchedulerHarness()
        let scheduler = try await harness.open()
        let watcher = await EventWatcher.watching(scheduler)
        _ = try await scheduler.relay(Self.transaction("1", [1]), for: "bridge")
        try await watcher.completed(1)
        let again = try await scheduler.relay(Self.transaction("1", [2]), for: "bridge")
        guard case .storedReusingID = again else { Issue.record("reused id: \(again)"); return }
        try await watcher.completed(2)
        #expect(harness.transport.attempts.map { numbers(in: $0.body) } == [[1], [2]])
        // The window now remembers the newer events under the id.
        #expect(try await scheduler.relay(Self.transaction("1", [2]), for: "bridge") == .duplicate)
        try await scheduler.close()
    }

    @Test func transactionsWithoutEventsAreRecognisedByTheirIdAlone() async throws {
        let harness = SchedulerHarness()
        let scheduler = try await harness.open()
        let typing = Array(#"{"type":"m.typing","content":{"user_ids":[]}}"#.utf8)
        guard case .stored = try await scheduler.relay(Self.transaction("t", [], ephemeral: [typing]), for: "bridge") else {
            Issue.record("not stored"); return
        }
        // Synapse sends a retry without its ephemeral items.
        #expect(try await scheduler.relay(Self.transaction("t", []), for: "bridge") == .duplicate)
        try await scheduler.close()
    }

    @Test(arguments: [false, true])
    func theWindowSurvivesReopeningAndCompaction(compacting: Bool) async throws {
        let harness = SchedulerHarness(realDisk: true)
        let scheduler = try await harness.open()
        let watcher = await EventWatcher.watching(scheduler)
        for id in 1...5 { _ = try await scheduler.relay(Self.transaction("\(id)", [id]), for: "bridge") }
        while true {
            let service = await scheduler.snapshot.services["bridge"]!
            if service.queued.isEmpty && service.pending.isEmpty { break }
            try await watcher.next { if case .completed = $0 { true } else { false } }
        }
        if compacting {
            _ = try #require(try await scheduler.compact())
            #expect(try Self.relayedRecords(harness).count < 5, "compaction dropped none of the delivered relays")
        }
        let window = await scheduler.snapshot.services["bridge"]!.relayWindow
        try await scheduler.close()
        let reopened = try await harness.open()
        #expect(await reopened.snapshot.services["bridge"]!.relayWindow == window)
        let appended = await reopened.logStatistics.appendedRecords
        for id in 1...5 {
            #expect(try await reopened.relay(Self.transaction("\(id)", [id], age: 99), for: "bridge") == .duplicate)
        }
        #expect(await reopened.logStatistics.appendedRecords == appended)
        try await reopened.close()
    }

    @Test func theWindowForgetsTheOldestPastItsCapacityAndMovesAReusedId() throws {
        var state = SchedulerState()
        var position: UInt64 = 0
        func relay(_ id: String, _ events: [String]) throws {
            position += 1
            try state.apply(.relayed(service: "s", transaction: id, eventIDs: EventIDDigest(eventIDs: events),
                                     items: EventBatch(), at: .epoch), at: LogPosition(rawValue: position))
        }
        for id in 0..<RelayWindow.capacity { try relay("\(id)", ["$\(id)"]) }
        try relay("0", ["$other"])
        try relay("new", [])
        let window = state.services["s"]!.relayWindow
        #expect(window.count == RelayWindow.capacity)
        #expect(window.digest(of: "1") == nil, "the oldest id was not forgotten")
        #expect(window.digest(of: "0") == EventIDDigest(eventIDs: ["$other"]))
        #expect(window.entries.suffix(2).map(\.transaction) == ["0", "new"])
    }

    @Test func theEventIDDigestIgnoresOrderAndSeparatesIds() {
        #expect(EventIDDigest(eventIDs: ["$a", "$b"]) == EventIDDigest(eventIDs: ["$b", "$a"]))
        #expect(EventIDDigest(eventIDs: ["ab", "c"]) != EventIDDigest(eventIDs: ["a", "bc"]))
        #expect(EventIDDigest(eventIDs: ["$a"]) != EventIDDigest(eventIDs: ["$a", "$a"]))
        #expect(EventIDDigest(eventIDs: []) != EventIDDigest(eventIDs: [""]))
    }

    /// Whatever kinds a relayed transaction carries are stored; the body carries those the
    /// registration asks for, under Synapse's names.
    @Test(arguments: [
        (ServiceDescriptor(id: "bridge"), [String]()),
        (ServiceDescriptor(id: "bridge", receivesEphemeral: true, receivesToDevice: true), ["ephemeral", "de.sorunome.msc2409.to_device"]),
        (ServiceDescriptor(id: "bridge", receivesToDevice: true, receivesUnstableEphemeral: true),
         ["de.sorunome.msc2409.ephemeral", "de.sorunome.msc2409.to_device"]),
        (ServiceDescriptor(id: "bridge", receivesEphemeral: true, receivesToDevice: true, receivesUnstableEphemeral: true,
                           receivesDeviceData: true),
         ["ephemeral", "de.sorunome.msc2409.ephemeral", "de.sorunome.msc2409.to_device", "org.matrix.msc3202.device_lists"]),
    ])
    func fieldsAreNamedAsTheRegistrationAsks(descriptor: ServiceDescriptor, expectedKeys: [String]) async throws {
        let harness = SchedulerHarness(services: [descriptor])
        let scheduler = try await harness.open()
        let watcher = await EventWatcher.watching(scheduler)
        let items = EventBatch(events: [Self.relayedEvent(1)], ephemeral: [event(2, kind: "m.typing")],
                               toDevice: [event(3, kind: "m.room_key_request")],
                               deviceData: [Array(#"{"device_lists":{"changed":["@a:hs"],"left":[]}}"#.utf8)])
        #expect(try await scheduler.relay(RelayedTransaction(transactionID: "1", eventIDs: ["$e1"], items: items),
                                          for: "bridge") != .duplicate)
        try await watcher.completed(1)
        let body = try #require(try JSONSerialization.jsonObject(with: Data(harness.transport.attempts[0].body)) as? [String: Any])
        #expect(Set(body.keys) == Set(["events"] + expectedKeys))
        for key in ["ephemeral", "de.sorunome.msc2409.ephemeral"] where body[key] != nil {
            #expect(numbers(in: harness.transport.attempts[0].body, key: key) == [2])
        }
        try await scheduler.close()
    }

    /// MSC3202: grouped transactions' device data merge (latest wins per user and device; a user's
    /// latest changed/left wins), the key counts under both names, and retries byte-identical.
    @Test func deviceDataOfGroupedTransactionsMerges() async throws {
        let harness = SchedulerHarness(services: [ServiceDescriptor(id: "bridge", receivesDeviceData: true)])
        let scheduler = try await harness.open()
        let watcher = await EventWatcher.watching(scheduler)
        harness.transport.hold()
        _ = try await scheduler.relay(Self.transaction("0", [0]), for: "bridge")
        try await watcher.next { $0 == .sending(service: "bridge", transaction: 1, attempt: 1) }
        let pushes = [
            #"{"device_lists":{"changed":["@a:hs","@b:hs"],"left":["@c:hs"]},"device_one_time_keys_count":{"@a:hs":{"D1":{"signed_curve25519":5},"D2":{"signed_curve25519":1}}}}"#,
            #"{"device_lists":{"changed":["@c:hs"],"left":["@b:hs"]},"device_one_time_keys_count":{"@a:hs":{"D1":{"signed_curve25519":4}}},"device_unused_fallback_key_types":{"@a:hs":{"D1":["signed_curve25519"]}}}"#,
        ]
        for (index, push) in pushes.enumerated() {
            _ = try await scheduler.relay(Self.transaction("\(index + 1)", [index + 1], deviceData: [Array(push.utf8)]), for: "bridge")
        }
        harness.transport.script([.delivered, .failed(reason: "down"), .delivered], for: "bridge")
        harness.transport.releaseAll()
        try await watcher.next { $0 == .down(service: "bridge") }
        try await scheduler.forceRetry("bridge")
        try await watcher.completed(2)
        let attempts = harness.transport.attempts.filter { $0.id == 2 }
        #expect(attempts.count == 2 && attempts[0].body == attempts[1].body, "a retry's body differs")
        let body = try #require(try JSONSerialization.jsonObject(with: Data(attempts[0].body)) as? [String: Any])
        let lists = try #require(body["org.matrix.msc3202.device_lists"] as? [String: [String]])
        #expect(lists["changed"] == ["@a:hs", "@c:hs"] && lists["left"] == ["@b:hs"])
        let counts = try #require(body["org.matrix.msc3202.device_one_time_keys_count"] as? [String: [String: [String: Int]]])
        #expect(counts == ["@a:hs": ["D1": ["signed_curve25519": 4], "D2": ["signed_curve25519": 1]]])
        #expect(NSDictionary(dictionary: body["org.matrix.msc3202.device_one_time_key_counts"] as? [String: Any] ?? [:])
                == NSDictionary(dictionary: counts))
        #expect(body["org.matrix.msc3202.device_unused_fallback_key_types"] as? [String: [String: [String]]]
                == ["@a:hs": ["D1": ["signed_curve25519"]]])
        try await scheduler.close()
    }
}

extension SchedulerRelayTests {
    /// A homeserver may make up long ids: the window remembers them by digest, so a checkpoint
    /// holding 10,000 of them stays small, and their retries are still recognised after one.
    @Test func longIdsAreRememberedByDigestThroughACheckpoint() async throws {
        let harness = SchedulerHarness(realDisk: true)
        let scheduler = try await harness.open()
        let long = String(repeating: "x", count: 5_000)
        _ = try await scheduler.relay(Self.transaction(long, [1]), for: "bridge")
        #expect(await scheduler.snapshot.services["bridge"]!.relayWindow.entries.allSatisfy { $0.transaction.utf8.count <= 64 })
        _ = try await scheduler.compact()
        try await scheduler.close()
        let reopened = try await harness.open()
        #expect(try await reopened.relay(Self.transaction(long, [1], age: 3), for: "bridge") == .duplicate)
        #expect(try await reopened.relay(Self.transaction(long + "y", [1]), for: "bridge") != .duplicate)
        try await reopened.close()
    }
}
