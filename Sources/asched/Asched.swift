import ArgumentParser

/// `asched`: the appservice scheduler's command-line tool.
@main
struct Asched: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "asched",
        abstract: "Durable delivery of events to Matrix application services, and tools for its log.",
        discussion: """
            Offline commands read a data directory (the scheduler's log) and never write to it,
            except `repair` without --dry-run. They can run beside a live daemon.
            """,
        subcommands: [InspectCommand.self, DumpCommand.self, VerifyCommand.self, StateCommand.self,
                      RepairCommand.self, CompactCommand.self, ServeCommand.self, DemoCommand.self])
}
