import DequeModule

/// The record encoding (docs/FORMAT.md, "Scheduler records"): a version byte, then the
/// fields in order as LEB128 varints and length-prefixed byte strings.
extension SchedulerRecord {
    static let encodingVersion: UInt64 = 1

    /// The record's payload bytes.
    public func encoded() -> [UInt8] {
        var writer = BinaryWriter()
        writer.write(Self.encodingVersion)
        switch self {
        case .enqueued(let service, let items):
            writer.write(service)
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
        }
        return writer.bytes
    }

    /// Decodes a record stored with frame type `typeCode`.
    public static func decode(typeCode: UInt8, payload: [UInt8]) throws -> SchedulerRecord {
        guard let type = RecordType(rawValue: typeCode) else {
            throw RecordDecodingError(typeCode: typeCode, reason: "unknown record type \(typeCode)")
        }
        var reader = BinaryReader(payload)
        do {
            let version = try reader.readUInt64()
            guard version == encodingVersion else {
                throw BinaryReader.Failure(reason: "record encoding version \(version); this build reads \(encodingVersion)")
            }
            let record = try decodeFields(type, from: &reader)
            guard reader.isAtEnd else { throw BinaryReader.Failure(reason: "bytes left after the record's fields") }
            return record
        } catch let failure as BinaryReader.Failure {
            throw RecordDecodingError(typeCode: typeCode, reason: failure.reason)
        }
    }

    private static func decodeFields(_ type: RecordType, from reader: inout BinaryReader) throws -> SchedulerRecord {
        switch type {
        case .enqueued:
            return .enqueued(service: try reader.readString(), items: try reader.readBatch())
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
            return .checkpoint(service: try reader.readString(), state: try reader.readServiceState())
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
        for kind in [items.events, items.ephemeral, items.toDevice] {
            write(kind.count)
            for item in kind { write(bytes: item) }
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
        var kinds: [Deque<[UInt8]>] = []
        for _ in 0..<3 {
            let count = try readCount()
            var items = Deque<[UInt8]>()
            items.reserveCapacity(count)
            for _ in 0..<count { items.append(try readBytes()) }
            kinds.append(items)
        }
        var batch = EventBatch()
        (batch.events, batch.ephemeral, batch.toDevice) = (kinds[0], kinds[1], kinds[2])
        return batch
    }

    mutating func readServiceState() throws(Failure) -> ServiceState {
        var service = ServiceState()
        service.status = try readUInt64() == 0 ? .up : .down
        service.queued = try readBatch()
        for _ in 0..<(try readCount()) {
            let transactionID = try readUInt64()
            let fields = BodyFields(rawValue: UInt8(truncatingIfNeeded: try readUInt64()))
            let attempts = try readInt()
            service.pending.append(Transaction(id: transactionID, items: try readBatch(), fields: fields, attempts: attempts))
        }
        let inFlight = try readUInt64()
        service.inFlight = inFlight == 0 ? nil : inFlight
        service.nextTransactionID = try readUInt64()
        let lastCompleted = try readUInt64()
        service.lastCompletedTransactionID = lastCompleted == 0 ? nil : lastCompleted
        service.backoffCounter = try readInt()
        let hasDue = try readUInt64() == 1
        let due = try readSigned()
        service.retryDue = hasDue ? SchedulerInstant(millisecondsSinceEpoch: due) : nil
        return service
    }
}
