/// The event grouper: which queued items the next transaction of a service takes.
enum TransactionGrouper {
    /// The record creating a transaction of `service`'s oldest queued items within `limits`, or
    /// nil when nothing is queued.
    static func nextTransaction(of service: ServiceState, for descriptor: ServiceDescriptor,
                                limits: TransactionLimits) -> SchedulerRecord? {
        let queued = service.queued
        guard !queued.isEmpty else { return nil }
        // Items of a kind the service does not receive are taken all the same and left out of the
        // body, as the homeserver would never have sent them: relayed items are never refused.
        return .transactionCreated(service: descriptor.id, id: service.nextTransactionID,
                                   events: min(queued.count(.events), limits.eventsMax),
                                   ephemeral: min(queued.count(.ephemeral), limits.ephemeralMax),
                                   toDevice: min(queued.count(.toDevice), limits.toDeviceMax),
                                   deviceData: min(queued.count(.deviceData), limits.deviceDataMax),
                                   fields: descriptor.bodyFields)
    }
}
