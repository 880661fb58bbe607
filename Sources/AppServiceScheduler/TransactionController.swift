/// The transaction controller: groups a service's queued items into transactions (the event
/// grouper) and sends them, one in flight per service.
extension AppServiceScheduler {
    /// Sends the next transaction of an UP service if none is under way, creating it from the
    /// queue (up to the caps) when nothing is pending.
    func pump(_ service: String) {
        guard failure == nil, let descriptor = services[service], let current = state.services[service],
              current.status == .up, !sending.contains(service) else { return }
        if current.pending.isEmpty {
            guard !current.queued.isEmpty else { return }
            guard (try? record([transactionFromQueue(current, descriptor)])) != nil else { return }
        }
        startSend(service)
    }

    /// A transaction of the oldest queued items, within the caps.
    private func transactionFromQueue(_ current: ServiceState, _ descriptor: ServiceDescriptor) -> SchedulerRecord {
        let limits = configuration.limits
        var fields: BodyFields = []
        if descriptor.receivesEphemeral { fields.insert(.ephemeral) }
        if descriptor.receivesToDevice { fields.insert(.toDevice) }
        return .transactionCreated(service: descriptor.id, id: current.nextTransactionID,
                                   events: min(current.queued.events.count, limits.eventsMax),
                                   ephemeral: min(current.queued.ephemeral.count, limits.ephemeralMax),
                                   toDevice: min(current.queued.toDevice.count, limits.toDeviceMax),
                                   fields: fields)
    }

    /// Starts an attempt on the oldest pending transaction: its record is durable before the
    /// transport sees the transaction.
    func startSend(_ service: String) {
        guard let transaction = state.services[service]?.pending.first else {
            preconditionFailure("startSend without a pending transaction")
        }
        precondition(!sending.contains(service), "two sends in flight for \(service)")
        let attempt = transaction.attempts + 1
        guard let pending = try? record([.sendStarted(service: service, id: transaction.id, attempt: attempt)]) else { return }
        sending.insert(service)
        let outgoing = OutgoingTransaction(service: service, id: transaction.id, attempt: attempt, body: transaction.body)
        let transport = transport
        Task {
            do {
                try await pending.durable()
                // Under `interval` or `never` durable() means written, not synced: a send that
                // left before its record was on disk could see its id reused after a power loss.
                if self.log.syncPolicy != .always { try await self.log.synchronize() }
            } catch {
                self.sendAbandoned(service, because: error)
                return
            }
            self.emit(.sending(service: service, transaction: outgoing.id, attempt: attempt))
            let outcome = await transport.send(outgoing)
            self.finishSend(outgoing, outcome)
        }
    }

    private func sendAbandoned(_ service: String, because error: any Error) {
        sending.remove(service)
        stop(because: error)
    }

    /// Records an attempt's outcome and decides what follows it.
    private func finishSend(_ transaction: OutgoingTransaction, _ outcome: SendOutcome) {
        let service = transaction.service
        sending.remove(service)
        guard failure == nil else { return }
        switch outcome {
        case .delivered:
            delivered(transaction)
        case .failed(let reason):
            failed(transaction, reason: reason)
        }
    }

    private func delivered(_ transaction: OutgoingTransaction) {
        let service = transaction.service
        guard (try? record([.sendSucceeded(service: service, id: transaction.id),
                            .transactionCompleted(service: service, id: transaction.id)])) != nil else { return }
        emit(.completed(service: service, transaction: transaction.id))
        let current = state.services[service]!
        guard current.status == .down else { return pump(service) }
        // Recovering: straight on to the next pending transaction; UP once none is left.
        if !current.pending.isEmpty { return startSend(service) }
        guard (try? record([.serviceUp(service: service)])) != nil else { return }
        emit(.up(service: service))
        pump(service)
    }

    private func failed(_ transaction: OutgoingTransaction, reason: String) {
        let service = transaction.service
        let current = state.services[service]!
        let counter = current.backoffCounter + 1
        let delay = configuration.backoff.delay(forRetry: counter)
        let due = clock.now + delay
        var records: [SchedulerRecord] = [.sendFailed(service: service, id: transaction.id, reason: reason)]
        if current.status == .up { records.append(.serviceDown(service: service)) }
        records.append(.backoffScheduled(service: service, counter: counter, delay: delay, due: due))
        guard (try? record(records)) != nil else { return }
        emit(.failed(service: service, transaction: transaction.id, reason: reason))
        if current.status == .up { emit(.down(service: service)) }
        emit(.retryScheduled(service: service, due: due, delay: delay))
        scheduleRetry(service, due: due)
    }
}
