import SegmentLog

/// What a replay needs of an `enqueued` or `relayed` record: whose items, when, how many of each
/// kind, and for a relayed one its transaction id and digest; the items' bytes are skipped, not
/// copied. Replay folds a backlog's records without allocating per item: the state keeps runs of
/// positions (``ItemRun``) and reads the bytes back only to send them (``ItemReader``).
struct QueuedItemCounts: Equatable {
    let service: String
    let enqueuedAt: SchedulerInstant
    /// Items per kind, indexed by ``ItemKind/rawValue``.
    let counts: [Int]
    let relay: (transaction: String, eventIDs: EventIDDigest)?

    static func == (left: Self, right: Self) -> Bool {
        left.service == right.service && left.enqueuedAt == right.enqueuedAt && left.counts == right.counts
            && left.relay?.transaction == right.relay?.transaction && left.relay?.eventIDs == right.relay?.eventIDs
    }

    /// The counts of a record stored with frame type `typeCode`, checked as strictly as
    /// ``SchedulerRecord/decode(typeCode:payload:)`` checks it (every length within the bytes
    /// left, no bytes left over); nil when the type is neither `enqueued` nor `relayed`.
    static func decode(typeCode: UInt8, payload: [UInt8]) throws -> QueuedItemCounts? {
        guard typeCode == RecordType.enqueued.rawValue || typeCode == RecordType.relayed.rawValue else { return nil }
        return try SchedulerRecord.decoding(typeCode: typeCode, payload: payload) { type, version, reader in
            let service = try reader.readString()
            let hasTime = type == .relayed || version >= 2
            let time = hasTime ? SchedulerInstant(millisecondsSinceEpoch: try reader.readSigned()) : .epoch
            var counts = [Int](repeating: 0, count: ItemKind.allCases.count)
            for kind in BinaryReader.kinds(version: version) {
                counts[kind.rawValue] = try reader.readCount()
                for _ in 0..<counts[kind.rawValue] { try reader.skipBytes() }
            }
            guard type == .relayed else { return QueuedItemCounts(service: service, enqueuedAt: time, counts: counts, relay: nil) }
            let transaction = try reader.readString()
            return QueuedItemCounts(service: service, enqueuedAt: time, counts: counts,
                                    relay: (transaction, try reader.readDigest()))
        }
    }
}

extension ServiceState {
    /// What applying the `enqueued` or `relayed` record `counted` was read from does.
    mutating func applyQueued(_ counted: QueuedItemCounts, at position: LogPosition) {
        precondition(counted.counts.count == ItemKind.allCases.count)
        queued.append(recordAt: position, counts: counted.counts, enqueuedAt: counted.enqueuedAt)
        if let relay = counted.relay { relayWindow.remember(relay.transaction, relay.eventIDs) }
    }
}
