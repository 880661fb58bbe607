import AppServiceScheduler
import SegmentLog

/// A log record with its scheduler meaning, as the offline commands show it.
struct DecodedRecord {
    let record: LogRecord
    let decoded: Result<SchedulerRecord, any Error>

    init(_ record: LogRecord) {
        self.record = record
        decoded = Result { try SchedulerRecord.decode(typeCode: record.type, payload: record.payload) }
    }

    var typeName: String {
        (try? decoded.get())?.type.name ?? "unknown-\(record.type)"
    }

    var service: String? { (try? decoded.get())?.service }

    /// The transaction the record is about, if any.
    var transactionID: UInt64? { (try? decoded.get())?.transactionID }

    /// The items the record holds (`enqueued` and `relayed` records).
    var items: EventBatch? {
        switch try? decoded.get() {
        case .enqueued(_, let items, _), .relayed(_, _, _, let items, _): items
        default: nil
        }
    }

    /// A short human summary of the payload.
    var summary: String {
        switch decoded {
        case .failure(let error):
            return "undecodable: \(error)"
        case .success(let record):
            switch record {
            case .enqueued(_, let items, let time):
                return Self.describe(items) + (time == .epoch ? "" : " at \(Timestamp.iso8601(time))")
            case .relayed(_, let transaction, let eventIDs, let items, let time):
                return "homeserver txn \"\(transaction)\" (event ids \(eventIDs)): \(Self.describe(items)) at \(Timestamp.iso8601(time))"
            case .transactionCreated(_, let id, let events, let ephemeral, let toDevice, let deviceData, _):
                return "txn \(id) takes \(events) events, \(ephemeral) ephemeral, \(toDevice) to-device"
                    + (deviceData == 0 ? "" : ", \(deviceData) device data")
            case .sendStarted(_, let id, let attempt):
                return "txn \(id) attempt \(attempt)"
            case .sendSucceeded(_, let id), .transactionCompleted(_, let id):
                return "txn \(id)"
            case .sendFailed(_, let id, let reason):
                return "txn \(id): \(reason)"
            case .serviceDown, .serviceUp, .forcedRetry:
                return ""
            case .servicePurged(_, let time):
                return "queued and pending items dropped at \(Timestamp.iso8601(time)); transaction ids continue"
            case .backoffScheduled(_, let counter, let delay, let due):
                return "retry \(counter) after \(delay) at \(Timestamp.iso8601(due))"
            case .checkpoint(_, let state, let continued):
                return "\(state.status.rawValue), \(state.pending.count) pending, \(state.queued.count) queued"
                    + (continued == 0 ? "" : " (and more in \(continued) queue-continued)") + ", next txn \(state.nextTransactionID)"
            case .queueContinued(_, let runs):
                return "\(runs.count) more queued"
            }
        }
    }

    private static func describe(_ items: EventBatch) -> String {
        "\(items.events.count) events, \(items.ephemeral.count) ephemeral, \(items.toDevice.count) to-device"
            + (items.deviceData.isEmpty ? "" : ", \(items.deviceData.count) device data")
    }
}
