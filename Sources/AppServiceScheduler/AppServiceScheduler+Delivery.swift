/// Delivery: one transaction in flight per service, grouped from the queue while UP, retried by
/// the recoverer while DOWN. Every step records its decision before acting on it.
extension AppServiceScheduler {
    /// Sends the next transaction of an UP service if none is under way, creating it from the
    /// queue when nothing is pending. DOWN services wait for their recoverer.
    func pump(_ service: String) {
        guard failure == nil, let descriptor = services[service], !sends.contains(service),
              state.services[service]?.status == .up else { return }
        if state.services[service]!.pending.isEmpty {
            guard let created = nextTransaction(of: service, for: descriptor), decide([created]) != nil else { return }
        }
        startSend(service)
    }

    /// The recoverer's step for a DOWN service: retry the oldest pending transaction, or, with
    /// none left, mark the service UP and go back to sending from the queue.
    func recoverNext(_ service: String) {
        precondition(state.services[service]?.status == .down, "recovering an UP service")
        precondition(!sends.contains(service), "recovering \(service) while a send is under way")
        if !state.services[service]!.pending.isEmpty { return startSend(service) }
        guard decide([.serviceUp(service: service)]) != nil else { return }
        emit(.up(service: service))
        if !state.services[service]!.queued.isEmpty { drainingBacklogs.insert(service) }
        pump(service)
    }

    /// Arms `service`'s retry for `due`, replacing any earlier timer.
    func scheduleRetry(_ service: String, due: SchedulerInstant) {
        recoverer.arm(service, due: due, clock: clock, executor: configuration.taskExecutor) { generation in
            await self.retryFired(service, generation: generation)
        }
    }

    private func retryFired(_ service: String, generation: UInt64) {
        guard recoverer.claim(service, generation: generation) else { return }
        retryNow(service)
    }

    /// Retries a DOWN service now, unless a send is already under way.
    func retryNow(_ service: String) {
        guard failure == nil, services[service] != nil, state.services[service]?.status == .down,
              !sends.contains(service) else { return }
        recoverNext(service)
    }

    /// Starts an attempt on the oldest pending transaction: its record is durable before the
    /// transport sees the transaction.
    private func startSend(_ service: String) {
        guard let transaction = state.services[service]?.pending.first else {
            preconditionFailure("startSend without a pending transaction")
        }
        guard let started = decide([.sendStarted(service: service, id: transaction.id, attempt: transaction.attempts + 1)])
        else { return }
        send(service, after: started)
    }

    /// Sends the oldest pending transaction, whose `sendStarted` is applied, once `started` (the
    /// append holding that record) is durable.
    private func send(_ service: String, after started: any DurableAppend) {
        let transaction = state.services[service]!.pending[0]
        let attempt = transaction.attempts
        sends.begin(service)
        let transport = transport
        Task(executorPreference: configuration.taskExecutor) {
            let outgoing: OutgoingTransaction
            do {
                try await started.durable()
                // Under `interval` or `never` durable() means written, not synced: a send that
                // left before its record was on disk could see its id reused after a power loss.
                if self.log.syncPolicy != .always { try await self.log.synchronize() }
                // Built once durable: the items' own records are then written too, so a backlog's
                // items can be read back from the log.
                outgoing = try await self.outgoing(transaction, of: service, attempt: attempt)
            } catch {
                await self.sendAbandoned(service, because: error)
                return
            }
            await self.emit(.sending(service: service, transaction: outgoing.id, attempt: attempt))
            let outcome = await transport.send(outgoing)
            await self.finishSend(outgoing, outcome)
        }
    }

    /// The transaction as sent: its body is built from its items once, then kept for retries.
    private func outgoing(_ transaction: Transaction, of service: String, attempt: Int) throws -> OutgoingTransaction {
        if let built = bodies[service], built.id == transaction.id {
            return OutgoingTransaction(service: service, id: transaction.id, attempt: attempt, body: built.body)
        }
        let body = transaction.body(with: try itemReader.items(transaction.items))
        bodies[service] = (transaction.id, body)
        return OutgoingTransaction(service: service, id: transaction.id, attempt: attempt, body: body)
    }

    private func sendAbandoned(_ service: String, because error: any Error) {
        sends.end(service)
        stop(because: error)
    }

    /// Records an attempt's outcome and decides what follows it.
    private func finishSend(_ transaction: OutgoingTransaction, _ outcome: SendOutcome) {
        sends.end(transaction.service)
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
        let drained = drainingBacklogs.contains(service) && state.services[service]!.queued.isEmpty
        // The next send's records go in the same append as the completion: group commit makes
        // them durable with one sync, so a catch-up costs one sync per transaction, not two.
        let next = nextSend(of: service, afterCompleting: transaction.id)
        guard let appended = decide([.sendSucceeded(service: service, id: transaction.id),
                                     .transactionCompleted(service: service, id: transaction.id)] + next) else { return }
        bodies[service] = nil
        emit(.completed(service: service, transaction: transaction.id))
        if drained {
            drainingBacklogs.remove(service)
            compactIfDue(afterDrain: true)
        }
        if !next.isEmpty { return send(service, after: appended) }
        // Recovering: straight on to the next pending transaction, not after another backoff.
        if state.services[service]!.status == .down { return retryNow(service) }
        pump(service)
    }

    /// The records starting `service`'s next attempt once transaction `completed` is completed,
    /// while it is UP and configured: the next pending transaction's, or a new transaction from
    /// the queue and its first attempt. Empty when there is nothing to send (or it is DOWN: the
    /// recoverer decides).
    private func nextSend(of service: String, afterCompleting completed: UInt64) -> [SchedulerRecord] {
        guard let descriptor = services[service], state.services[service]!.status == .up else { return [] }
        precondition(state.services[service]!.pending.first?.id == completed, "completing \(completed), not the oldest pending")
        if state.services[service]!.pending.count > 1 {
            let next = state.services[service]!.pending[1]
            return [.sendStarted(service: service, id: next.id, attempt: next.attempts + 1)]
        }
        guard let created = nextTransaction(of: service, for: descriptor), let id = created.transactionID else { return [] }
        return [created, .sendStarted(service: service, id: id, attempt: 1)]
    }

    /// The record creating `service`'s next transaction from its queue, or nil when nothing is queued.
    private func nextTransaction(of service: String, for descriptor: ServiceDescriptor) -> SchedulerRecord? {
        // The grouper's copy of the service state is gone before the record is applied, so
        // taking items from the queue never copies the queue.
        TransactionGrouper.nextTransaction(of: state.services[service]!, for: descriptor, limits: configuration.limits)
    }

    private func failed(_ transaction: OutgoingTransaction, reason: String) {
        let service = transaction.service
        let wasUp = state.services[service]!.status == .up
        let counter = state.services[service]!.backoffCounter + 1
        let delay = configuration.backoff.delay(forRetry: counter)
        let due = clock.now + delay
        var records: [SchedulerRecord] = [.sendFailed(service: service, id: transaction.id, reason: reason)]
        if wasUp { records.append(.serviceDown(service: service)) }
        records.append(.backoffScheduled(service: service, counter: counter, delay: delay, due: due))
        guard decide(records) != nil else { return }
        emit(.failed(service: service, transaction: transaction.id, reason: reason))
        if wasUp { emit(.down(service: service)) }
        emit(.retryScheduled(service: service, due: due, delay: delay))
        // A service removed while this attempt was under way is not retried.
        if services[service] != nil { scheduleRetry(service, due: due) }
    }
}
