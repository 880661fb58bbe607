import DequeModule
import SegmentLog

/// The record encoding (docs/FORMAT.md, "Scheduler records"): a version byte, then the
/// fields in order as LEB128 varints and length-prefixed byte strings.
extension SchedulerRecord {
    /// The version this build writes. Versions 1 (no enqueue time; checkpoints holding item bytes)
    /// and 2 (three item kinds; no relay window) are still read, so a data directory written by
    /// an earlier release opens unchanged.
    static let encodingVersion: UInt64 = 3

    /// The record's payload bytes.
    public func encoded() -> [UInt8] {
        var writer = BinaryWriter()
        writer.write(Self.encodingVersion)
        switch self {
        case .enqueued(let service, let items, let time):
            writer.write(service)
            writer.write(signed: time.millisecondsSinceEpoch)
            writer.write(items)
        case .relayed(let service, let transaction, let eventIDs, let items, let time):
            writer.write(service)
            writer.write(signed: time.millisecondsSinceEpoch)
            writer.write(items)
            writer.write(transaction)
            writer.write(eventIDs)
        case .transactionCreated(let service, let id, let events, let ephemeral, let toDevice, let deviceData, let fields):
            writer.write(service)
            writer.write(id)
            writer.write(events)
            writer.write(ephemeral)
            writer.write(toDevice)
            writer.write(deviceData)
            writer.write(UInt64(fields.rawValue))
        case .sendStarted(let service, let id, let attempt):
            writer.write(service)
            writer.write(id)
            writer.write(attempt)
        case .sendSucceeded(let service, let id), .transactionCompleted(let service, let id):
            writer.write(service)
            writer.write(id)
        case .sendFailed(let service, let id, let reason):
            writer.write(service)
            writer.write(id)
            writer.write(reason)
        case .serviceDown(let service), .serviceUp(let service), .forcedRetry(let service):
            writer.write(service)
        case .servicePurged(let service, let time):
            writer.write(service)
            writer.write(signed: time.millisecondsSinceEpoch)
        case .backoffScheduled(let service, let counter, let delay, let due):
            writer.write(service)
            writer.write(counter)
            writer.write(signed: delay.milliseconds)
            writer.write(signed: due.millisecondsSinceEpoch)
        case .checkpoint(let service, let state, let continued):
            writer.write(service)
            writer.write(state)
            writer.write(continued)
        case .queueContinued(let service, let runs):
            writer.write(service)
            writer.write(runs)
        }
        return writer.bytes
    }

    /// Decodes a record stored with frame type `typeCode`.
    ///
    /// A version 1 checkpoint holds its queue's and pending transactions' item bytes; it decodes
    /// to runs of the checkpoint record itself, at ``LogPosition/start``, which
    /// ``SchedulerState/apply(_:at:)`` replaces with the record's position.
    public static func decode(typeCode: UInt8, payload: [UInt8]) throws -> SchedulerRecord {
        try decoding(typeCode: typeCode, payload: payload) { type, version, reader in
            try decodeFields(type, version: version, from: &reader)
        }
    }

    /// The items stored in a record that ``ItemRun``s point to: an `enqueued` or `relayed`
    /// record's, or a version 1 checkpoint's (its queue, then each pending transaction's, per kind).
    public static func storedItems(typeCode: UInt8, payload: [UInt8]) throws -> EventBatch {
        try decoding(typeCode: typeCode, payload: payload) { type, version, reader in
            switch (type, version) {
            case (.enqueued, _):
                _ = try reader.readString()
                if version >= 2 { _ = try reader.readSigned() }
                return try reader.readBatch(version: version)
            case (.relayed, _):
                _ = try reader.readString()
                _ = try reader.readSigned()
                let items = try reader.readBatch(version: version)
                _ = try reader.readString()
                _ = try reader.readDigest()
                return items
            case (.checkpoint, 1):
                _ = try reader.readString()
                return try reader.readVersion1ServiceState().items
            default:
                throw BinaryReader.Failure(reason: "a \(type.name) record (encoding version \(version)) holds no items")
            }
        }
    }

    static func decoding<Result>(
        typeCode: UInt8, payload: [UInt8],
        _ body: (RecordType, UInt64, inout BinaryReader) throws -> Result
    ) throws -> Result {
        guard let type = RecordType(rawValue: typeCode) else {
            throw RecordDecodingError(typeCode: typeCode, reason: "unknown record type \(typeCode)")
        }
        var reader = BinaryReader(payload)
        do {
            let version = try reader.readUInt64()
            guard (1...encodingVersion).contains(version) else {
                throw BinaryReader.Failure(reason: "record encoding version \(version); this build reads 1 to \(encodingVersion)")
            }
            let result = try body(type, version, &reader)
            guard reader.isAtEnd else { throw BinaryReader.Failure(reason: "bytes left after the record's fields") }
            return result
        } catch let failure as BinaryReader.Failure {
            throw RecordDecodingError(typeCode: typeCode, reason: failure.reason)
        }
    }

    private static func decodeFields(_ type: RecordType, version: UInt64,
                                     from reader: inout BinaryReader) throws(BinaryReader.Failure) -> SchedulerRecord {
        switch type {
        case .enqueued:
            let service = try reader.readString()
            let time = version >= 2 ? SchedulerInstant(millisecondsSinceEpoch: try reader.readSigned()) : .epoch
            return .enqueued(service: service, items: try reader.readBatch(version: version), at: time)
        case .relayed:
            let service = try reader.readString()
            let time = SchedulerInstant(millisecondsSinceEpoch: try reader.readSigned())
            let items = try reader.readBatch(version: version)
            return .relayed(service: service, transaction: try reader.readString(), eventIDs: try reader.readDigest(),
                            items: items, at: time)
        case .transactionCreated:
            return .transactionCreated(service: try reader.readString(), id: try reader.readUInt64(),
                                       events: try reader.readInt(), ephemeral: try reader.readInt(),
                                       toDevice: try reader.readInt(), deviceData: version >= 3 ? try reader.readInt() : 0,
                                       fields: BodyFields(rawValue: UInt8(truncatingIfNeeded: try reader.readUInt64())))
        case .sendStarted:
            return .sendStarted(service: try reader.readString(), id: try reader.readUInt64(), attempt: try reader.readInt())
        case .sendSucceeded:
            return .sendSucceeded(service: try reader.readString(), id: try reader.readUInt64())
        case .sendFailed:
            return .sendFailed(service: try reader.readString(), id: try reader.readUInt64(), reason: try reader.readString())
        case .transactionCompleted:
            return .transactionCompleted(service: try reader.readString(), id: try reader.readUInt64())
        case .serviceDown:
            return .serviceDown(service: try reader.readString())
        case .serviceUp:
            return .serviceUp(service: try reader.readString())
        case .backoffScheduled:
            return .backoffScheduled(service: try reader.readString(), counter: try reader.readInt(),
                                     delay: .milliseconds(try reader.readSigned()),
                                     due: SchedulerInstant(millisecondsSinceEpoch: try reader.readSigned()))
        case .forcedRetry:
            return .forcedRetry(service: try reader.readString())
        case .servicePurged:
            return .servicePurged(service: try reader.readString(),
                                  at: SchedulerInstant(millisecondsSinceEpoch: try reader.readSigned()))
        case .checkpoint:
            let service = try reader.readString()
            let state = version == 1 ? try reader.readVersion1ServiceState().state : try reader.readServiceState(version: version)
            // Before version 3 a checkpoint took effect at once, and the records continuing its
            // queue were applied to it as they came.
            return .checkpoint(service: service, state: state, continued: version >= 3 ? try reader.readInt() : 0)
        case .queueContinued:
            return .queueContinued(service: try reader.readString(), runs: try reader.readRuns(version: version))
        }
    }
}

/// A record's payload could not be decoded.
public struct RecordDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The frame type it was stored with.
    public let typeCode: UInt8
    /// What was wrong.
    public let reason: String

    public var description: String { "record of type \(typeCode): \(reason)" }
}

extension BinaryWriter {
    mutating func write(_ digest: EventIDDigest) {
        write(UInt64(truncatingIfNeeded: digest.value >> 64))
        write(UInt64(truncatingIfNeeded: digest.value))
    }

    mutating func write(_ items: EventBatch) {
        for kind in ItemKind.allCases {
            write(items.count(kind))
            for item in items[kind] { write(bytes: item) }
        }
    }

    mutating func write(_ runs: ItemRuns) {
        for kind in ItemKind.allCases {
            write(runs[kind].count)
            for run in runs[kind] {
                write(run.position.rawValue)
                write(UInt64(run.first))
                write(UInt64(run.count))
                write(signed: run.enqueuedAt.millisecondsSinceEpoch)
            }
        }
    }

    mutating func write(_ service: ServiceState) {
        write(service.status == .up ? 0 : 1)
        write(service.queued)
        write(service.pending.count)
        for transaction in service.pending {
            write(transaction.id)
            write(UInt64(transaction.fields.rawValue))
            write(transaction.attempts)
            write(transaction.items)
        }
        write(service.inFlight ?? 0)
        write(service.nextTransactionID)
        write(service.lastCompletedTransactionID ?? 0)
        write(service.backoffCounter)
        write(service.retryDue == nil ? 0 : 1)
        write(signed: service.retryDue?.millisecondsSinceEpoch ?? 0)
        write(service.purgedAt == nil ? 0 : 1)
        write(signed: service.purgedAt?.millisecondsSinceEpoch ?? 0)
        write(service.relayWindow.count)
        for (transaction, eventIDs) in service.relayWindow.entries {
            write(transaction)
            write(eventIDs)
        }
    }
}

extension BinaryReader {
    /// The item kinds a record of encoding `version` stores: ``ItemKind/deviceData`` came with version 3.
    static func kinds(version: UInt64) -> ArraySlice<ItemKind> {
        ItemKind.allCases.prefix(version >= 3 ? ItemKind.allCases.count : 3)
    }

    mutating func readDigest() throws(Failure) -> EventIDDigest {
        let high = try readUInt64()
        return EventIDDigest(value: UInt128(high) << 64 | UInt128(try readUInt64()))
    }

    mutating func readBatch(version: UInt64) throws(Failure) -> EventBatch {
        var batch = EventBatch()
        for kind in Self.kinds(version: version) {
            let count = try readCount()
            var items = Deque<[UInt8]>()
            items.reserveCapacity(count)
            for _ in 0..<count { items.append(try readBytes()) }
            batch[kind] = items
        }
        return batch
    }

    mutating func readRuns(version: UInt64) throws(Failure) -> ItemRuns {
        var runs = ItemRuns()
        for kind in Self.kinds(version: version) {
            for _ in 0..<(try readCount()) {
                let position = LogPosition(rawValue: try readUInt64())
                let first = try readUInt64()
                let count = try readUInt64()
                guard count > 0, first + count <= UInt64(UInt32.max) else {
                    throw Failure(reason: "item run of \(count) from \(first) at position \(position) is out of range")
                }
                let time = SchedulerInstant(millisecondsSinceEpoch: try readSigned())
                runs.append(ItemRun(position: position, first: UInt32(first), count: UInt32(count), enqueuedAt: time), kind)
            }
        }
        return runs
    }

    /// A service state ending in its fields after the queue and pending transactions, in both versions.
    private mutating func readServiceStateTail(into service: inout ServiceState) throws(Failure) {
        let inFlight = try readUInt64()
        service.inFlight = inFlight == 0 ? nil : inFlight
        service.nextTransactionID = try readUInt64()
        let lastCompleted = try readUInt64()
        service.lastCompletedTransactionID = lastCompleted == 0 ? nil : lastCompleted
        service.backoffCounter = try readInt()
        let hasDue = try readUInt64() == 1
        let due = try readSigned()
        service.retryDue = hasDue ? SchedulerInstant(millisecondsSinceEpoch: due) : nil
    }

    mutating func readServiceState(version: UInt64) throws(Failure) -> ServiceState {
        var service = ServiceState()
        service.status = try readUInt64() == 0 ? .up : .down
        service.queued = try readRuns(version: version)
        for _ in 0..<(try readCount()) {
            let transactionID = try readUInt64()
            let fields = BodyFields(rawValue: UInt8(truncatingIfNeeded: try readUInt64()))
            let attempts = try readInt()
            service.pending.append(Transaction(id: transactionID, items: try readRuns(version: version), fields: fields,
                                               attempts: attempts))
        }
        try readServiceStateTail(into: &service)
        if version >= 3 {
            let purged = try readUInt64() == 1
            let purgedAt = try readSigned()
            service.purgedAt = purged ? SchedulerInstant(millisecondsSinceEpoch: purgedAt) : nil
            for _ in 0..<(try readCount()) {
                let transaction = try readString()
                service.relayWindow.remember(transaction, try readDigest())
            }
        }
        return service
    }

    /// A version 1 checkpoint's state, whose queue and pending transactions hold item bytes:
    /// the state refers to them as runs of the checkpoint itself (at ``LogPosition/start``, to be
    /// replaced by its position), and `items` is what those runs index, per kind: the queue's
    /// items, then each pending transaction's.
    mutating func readVersion1ServiceState() throws(Failure) -> (state: ServiceState, items: EventBatch) {
        var service = ServiceState()
        var items = EventBatch()
        func runs(of batch: EventBatch) -> ItemRuns {
            var runs = ItemRuns()
            for kind in ItemKind.allCases where batch.count(kind) > 0 {
                runs.append(ItemRun(position: .start, first: UInt32(items.count(kind)), count: UInt32(batch.count(kind)),
                                    enqueuedAt: .epoch), kind)
                items[kind].append(contentsOf: batch[kind])
            }
            return runs
        }
        service.status = try readUInt64() == 0 ? .up : .down
        service.queued = runs(of: try readBatch(version: 1))
        for _ in 0..<(try readCount()) {
            let transactionID = try readUInt64()
            let fields = BodyFields(rawValue: UInt8(truncatingIfNeeded: try readUInt64()))
            let attempts = try readInt()
            let transactionItems = runs(of: try readBatch(version: 1))
            service.pending.append(Transaction(id: transactionID, items: transactionItems, fields: fields, attempts: attempts))
        }
        try readServiceStateTail(into: &service)
        return (service, items)
    }
}
