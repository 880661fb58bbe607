/// The recoverer: for a DOWN service, waits out the backoff, then retries the oldest pending
/// transaction; on success it goes straight on, and marks the service UP once nothing is pending.
extension AppServiceScheduler {
    /// Arms the service's retry timer for `due`, replacing any earlier one.
    func scheduleRetry(_ service: String, due: SchedulerInstant) {
        cancelRetry(service)
        let generation = retryGeneration[service, default: 0]
        let clock = clock
        retryTasks[service] = Task {
            do {
                try await clock.sleep(until: due)
            } catch {
                return
            }
            self.retryFired(service, generation: generation)
        }
    }

    func cancelRetry(_ service: String) {
        retryGeneration[service, default: 0] += 1
        retryTasks.removeValue(forKey: service)?.cancel()
    }

    private func retryFired(_ service: String, generation: Int) {
        guard retryGeneration[service, default: 0] == generation else { return }
        retryTasks[service] = nil
        retryNow(service)
    }

    /// Retries the oldest pending transaction now, or marks the service UP when none is pending.
    func retryNow(_ service: String) {
        guard failure == nil, let current = state.services[service], current.status == .down,
              !sending.contains(service) else { return }
        if !current.pending.isEmpty { return startSend(service) }
        guard (try? record([.serviceUp(service: service)])) != nil else { return }
        emit(.up(service: service))
        pump(service)
    }
}
