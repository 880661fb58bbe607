import DequeModule
import SegmentLog

/// The record encoding (docs/FORMAT.md, "Scheduler records"): a version byte, then the
/// fields in order as LEB128 varints and length-prefixed byte strings.
extension SchedulerRecord {
    /// The version this build writes. Version 1 (no enqueue time; checkpoints holding item bytes)
    /// is still read, so a data directory written before version 2 opens unchanged.
    static let encodingVersion: UInt64 = 2

    /// The record's payload bytes.
    public func encoded() -> [UInt8] {
        var writer = BinaryWriter()
        writer.write(Self.encodingVersion)
        switch self {
        case .enqueued(let service, let items, let time):
            writer.write(service)
            writer.write(signed: time.millisecondsSinceEpoch)
            writer.write(items)
        case .transactionCreated(let service, let id, let events, let ephemeral, let toDevice, let fields):
            writer.write(service)
            writer.write(id)
            writer.write(events)
            writer.write(ephemeral)
            writer.write(toDevice)
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
        case .backoffScheduled(let service, let counter, let delay, let due):
            writer.write(service)
            writer.write(counter)
            writer.write(signed: delay.milliseconds)
            writer.write(signed: due.millisecondsSinceEpoch)
        case .checkpoint(let service, let state):
            writer.write(service)
            writer.write(state)
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

    /// The items stored in a record that ``ItemRun``s point to: an `enqueued` record's, or a
    /// version 1 checkpoint's (its queue, then each pending transaction's, per kind).
    public static func storedItems(typeCode: UInt8, payload: [UInt8]) throws -> EventBatch {
        try decoding(typeCode: typeCode, payload: payload) { type, version, reader in
            switch (type, version) {
            case (.enqueued, _):
                _ = try reader.readString()
                if version >= 2 { _ = try reader.readSigned() }
                let items = try reader.readBatch()
                return items
            case (.checkpoint, 1):
                _ = try reader.readString()
                return try reader.readVersion1ServiceState().items
            default:
                throw BinaryReader.Failure(reason: "a \(type.name) record (encoding version \(version)) holds no items")
            }
        }
    }

    private static func decoding<Result>(
        typeCode: UInt8, payload: [UInt8],
        _ body: (RecordType, UInt64, inout BinaryReader) throws -> Result
    ) throws -> Result {
        guard let type = RecordType(rawValue: typeCode) else {
            throw RecordDecodingError(typeCode: typeCode, reason: "unknown record type \(typeCode)")
        }
        var reader = BinaryReader(payload)
        do {
            let version = try reader.readUInt64()
            guard version == 1 || version == encodingVersion else {
                throw BinaryReader.Failure(reason: "record encoding version \(version); this build reads 1 and \(encodingVersion)")
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
            return .enqueued(service: service, items: try reader.readBatch(), at: time)
        case .transactionCreated:
            return .transactionCreated(service: try reader.readString(), id: try reader.readUInt64(),
                                       events: try reader.readInt(), ephemeral: try reader.readInt(),
                                       toDevice: try reader.readInt(),
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
        case .checkpoint:
            let service = try reader.readString()
            let state = version == 1 ? try reader.readVersion1ServiceState().state : try reader.readServiceState()
            return .checkpoint(service: service, state: state)
        case .queueContinued:
            return .queueContinued(service: try reader.readString(), runs: try reader.readRuns())
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
    }
}

extension BinaryReader {
    mutating func readBatch() throws(Failure) -> EventBatch {
        var batch = EventBatch()
        for kind in ItemKind.allCases {
            let count = try readCount()
            var items = Deque<[UInt8]>()
            items.reserveCapacity(count)
            for _ in 0..<count { items.append(try readBytes()) }
            batch[kind] = items
        }
        return batch
    }

    mutating func readRuns() throws(Failure) -> ItemRuns {
        var runs = ItemRuns()
        for kind in ItemKind.allCases {
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

    mutating func readServiceState() throws(Failure) -> ServiceState {
        var service = ServiceState()
        service.status = try readUInt64() == 0 ? .up : .down
        service.queued = try readRuns()
        for _ in 0..<(try readCount()) {
            let transactionID = try readUInt64()
            let fields = BodyFields(rawValue: UInt8(truncatingIfNeeded: try readUInt64()))
            let attempts = try readInt()
            service.pending.append(Transaction(id: transactionID, items: try readRuns(), fields: fields, attempts: attempts))
        }
        try readServiceStateTail(into: &service)
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
        service.queued = runs(of: try readBatch())
        for _ in 0..<(try readCount()) {
            let transactionID = try readUInt64()
            let fields = BodyFields(rawValue: UInt8(truncatingIfNeeded: try readUInt64()))
            let attempts = try readInt()
            let transactionItems = runs(of: try readBatch())
            service.pending.append(Transaction(id: transactionID, items: transactionItems, fields: fields, attempts: attempts))
        }
        try readServiceStateTail(into: &service)
        return (service, items)
    }
}
