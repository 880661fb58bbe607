import ServiceLifecycle

/// How `asched serve` steps down once it lost the database's writer lease: it shuts the daemon
/// down as SIGTERM does (requests under way answered, connections closed, the scheduler closed),
/// then serves as a standby again. Cancelling the services instead would tear down connections
/// with requests on them.
actor StepDown {
    /// Why the daemon stepped down; nil while it has not.
    private(set) var error: (any Error)?
    private var group: ServiceGroup?

    /// The group to shut down; a loss reported before it is attached shuts it down at once.
    func attach(_ group: ServiceGroup) async {
        self.group = group
        if error != nil { await group.triggerGracefulShutdown() }
    }

    /// Records `error` and starts the graceful shutdown.
    func lost(_ error: any Error) async {
        self.error = error
        await group?.triggerGracefulShutdown()
    }
}
