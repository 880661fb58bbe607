import ArgumentParser

/// `asched`: the appservice scheduler's command-line tool.
@main
struct Asched: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "asched",
        abstract: "Durable delivery of events to Matrix application services, and tools for its log.",
        discussion: """
            `serve` runs the daemon and `demo` shows it end to end; `registration` prints the
            homeserver's copy of a registration for asched's relay. The offline commands read a data
            directory (the scheduler's log) and never write to it, except `repair` and
            `purge-service` without --dry-run, and `compact`; the read-only ones run beside a live daemon,
            and read a PostgreSQL database instead with --database-url (or ASCHED_DATABASE_URL).
            """,
        subcommands: [InspectCommand.self, DumpCommand.self, VerifyCommand.self, StateCommand.self,
                      RepairCommand.self, CompactCommand.self, PurgeServiceCommand.self, ServeCommand.self, RegistrationCommand.self,
                      DemoCommand.self])
}
