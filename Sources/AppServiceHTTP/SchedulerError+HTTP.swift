import AppServiceScheduler

extension SchedulerError {
    /// The HTTP answer for a scheduler error.
    var httpError: HTTPAPIError {
        switch self {
        case .unknownService(let id):
            .unknownService(id)
        case .purgeOfConfiguredService, .sendUnderWay:
            HTTPAPIError(.conflict, "M_UNKNOWN", description)
        case .invalidItem, .kindNotAccepted, .emptyBatch:
            .badJSON(description)
        case .batchTooLarge:
            HTTPAPIError(.contentTooLarge, "M_TOO_LARGE", description)
        case .logBudgetExceeded, .diskSpaceLow:
            HTTPAPIError(.serviceUnavailable, "M_RESOURCE_LIMIT_EXCEEDED", description)
        case .invalidRecord, .storageFailed, .closed:
            HTTPAPIError(.serviceUnavailable, "M_UNAVAILABLE", description)
        }
    }
}
