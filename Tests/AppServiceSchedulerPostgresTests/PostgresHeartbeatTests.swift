import AppServiceSchedulerPostgres
import Testing

/// An instance's heartbeat keeps one connection to the database between beats, and replaces it
/// within the beat when the server ended it.
@Suite(needsPostgres) struct PostgresHeartbeatTests {
    /// The database's connections other than the one asking.
    static func otherConnections(_ url: PostgresDatabaseURL) async throws -> Int {
        try await PostgresTestServer.count(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()", on: url)
    }

    @Test func beatsShareOneConnectionAndSeeEveryInstance() async throws {
        let url = try await PostgresTestServer.shared.freshDatabase()
        try await PostgresDeployment.prepare(url: url)
        let first = PostgresHeartbeat(url: url, instance: "a")
        let second = PostgresHeartbeat(url: url, instance: "b")
        _ = try await second.beat(address: "http://b:8448", duration: .seconds(60))
        var deployment: PostgresDeployment?
        for _ in 0..<5 { deployment = try await first.beat(address: "http://a:8448", duration: .seconds(60)) }
        #expect(deployment?.instances == ["a": "http://a:8448", "b": "http://b:8448"])
        let opened = (await first.connectionsOpened, await second.connectionsOpened)
        #expect(opened == (1, 1))
        #expect(try await Self.otherConnections(url) == 2, "one per heartbeat, kept between beats")

        await first.close()
        await second.close()
        try await eventually("the heartbeats' connections are gone") { try await Self.otherConnections(url) == 0 }
    }

    @Test func aConnectionTheServerEndedIsReplacedWithinTheBeat() async throws {
        let url = try await PostgresTestServer.shared.freshDatabase()
        try await PostgresDeployment.prepare(url: url)
        let heartbeat = PostgresHeartbeat(url: url, instance: "a")
        _ = try await heartbeat.beat(address: "http://a:8448", duration: .seconds(60))
        try await PostgresTestServer.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
            on: url)
        try await eventually("the server ended the heartbeat's connection") { try await Self.otherConnections(url) == 0 }

        let deployment = try await heartbeat.beat(address: "http://a:8448", duration: .seconds(60))
        #expect(deployment.instances == ["a": "http://a:8448"])
        #expect(await heartbeat.connectionsOpened == 2)
        await heartbeat.close()
    }
}
