import AppServiceHTTP
import AppServiceSchedulerPostgres
import Foundation
import Testing

/// `database_url`, `ASCHED_DATABASE_URL`, `instance_name` and `advertise_url`.
struct DaemonConfigurationDatabaseTests {
    static let file = Fixtures.path("inline.yaml")
    static let secretURL = "postgres://asched:db_secret_value@db.example:5433/queue"

    func parse(_ yaml: String, environment: [String: String] = [:]) throws -> DaemonConfiguration {
        try DaemonConfiguration(yaml: yaml, file: Self.file, environment: environment)
    }

    @Test func theEmbeddedLogIsTheDefault() throws {
        let configuration = try parse("")
        #expect(configuration.databaseURL == nil)
        #expect(configuration.instanceName == "\(ProcessInfo.processInfo.hostName):8448")
        #expect(try parse("listen: 127.0.0.1:9001").instanceName == "\(ProcessInfo.processInfo.hostName):9001")
        #expect(try DaemonConfiguration.load(path: Fixtures.path("asched.yaml"), environment: [:]).instanceName == "asched-example-1")
    }

    @Test func databaseURLFromTheFile() throws {
        let configuration = try parse("database_url: \(Self.secretURL)\ninstance_name: east-1")
        #expect(configuration.databaseURL == PostgresDatabaseURL(user: "asched", password: "db_secret_value", host: "db.example",
                                                                 port: 5433, database: "queue"))
        #expect(configuration.databaseURLSource == "database_url")
        #expect(configuration.instanceName == "east-1")
    }

    /// The variable wins over the key, so a file may name the database while the password
    /// stays in the service's environment.
    @Test func theEnvironmentVariableWinsOverTheKey() throws {
        let environment = [DaemonConfiguration.databaseURLVariable: Self.secretURL]
        let configuration = try parse("database_url: postgres://asched@other.example/queue", environment: environment)
        #expect(configuration.databaseURL?.host == "db.example" && configuration.databaseURL?.password == "db_secret_value")
        #expect(configuration.databaseURLSource == "the environment variable ASCHED_DATABASE_URL")
        #expect(try parse("", environment: environment).databaseURL?.host == "db.example")
        #expect(try DaemonConfiguration.load(path: nil, environment: environment).databaseURL?.database == "queue")
        let empty = errorText { _ = try parse("", environment: [DaemonConfiguration.databaseURLVariable: ""]) }
        #expect(empty == "\(Self.file): ASCHED_DATABASE_URL: is set but empty; unset it or give the URL")
    }

    @Test(arguments: DaemonConfiguration.embeddedLogKeys)
    func theEmbeddedLogsKeysConflictWithADatabase(key: ConfigurationKey) {
        let value = key == .dataDir ? "./data" : key.defaultValue
        let fromFile = errorText { _ = try parse("database_url: \(Self.secretURL)\n\(key.name): '\(value)'") }
        #expect(fromFile == "\(Self.file): \(key.name): conflicts with database_url: with a database the records are in "
                + "PostgreSQL and \(key.name) is the embedded log's; remove one of them")
        let fromEnvironment = errorText {
            _ = try parse("\(key.name): '\(value)'", environment: [DaemonConfiguration.databaseURLVariable: Self.secretURL])
        }
        #expect(fromEnvironment?.contains("\(key.name): conflicts with the environment variable ASCHED_DATABASE_URL") == true)
        #expect(fromFile?.contains("db_secret_value") == false && fromEnvironment?.contains("db_secret_value") == false)
    }

    /// Where standbys forward to: the listen address as other machines reach it, unless set.
    @Test func theAdvertisedURLDefaultsToTheListenAddress() throws {
        let database = "database_url: \(Self.secretURL)\ningest_token: t\n"
        #expect(try parse(database + "listen: 10.0.0.5:9001").advertiseURL(boundPort: 9001) == "http://10.0.0.5:9001")
        #expect(try parse(database + "listen: 127.0.0.1:0").advertiseURL(boundPort: 41234) == "http://127.0.0.1:41234",
                "port 0: the port bound")
        #expect(try parse(database + "listen: 0.0.0.0:8448").advertiseURL(boundPort: 8448) == "http://\(ProcessInfo.processInfo.hostName):8448")
        #expect(try parse(database + "listen: '[fd00::5]:8448'").advertiseURL(boundPort: 8448) == "http://[fd00::5]:8448")
        #expect(try parse(database + "advertise_url: https://asched-east.example:443/").advertiseURL(boundPort: 8448)
                == "https://asched-east.example:443")
    }

    @Test func aBadOrUselessAdvertisedURLIsRefused() {
        let bad = errorText { _ = try parse("database_url: \(Self.secretURL)\nadvertise_url: ftp://east") }
        #expect(bad == "\(Self.file): advertise_url: \"ftp://east\" is not an http:// or https:// URL with a host, "
                + "such as http://10.0.0.5:8448")
        let alone = errorText { _ = try parse("advertise_url: http://10.0.0.5:8448") }
        #expect(alone?.hasPrefix("\(Self.file): advertise_url: is where the other instances on a database forward to") == true)
    }

    @Test func anEmptyKeyIsNoDatabase() throws {
        #expect(try parse("database_url:\ndata_dir: ./data").databaseURL == nil)
    }

    @Test(arguments: [
        ("mysql://asched:db_secret_value@db/queue", "it is not of the form postgres://USER:PASSWORD@HOST:PORT/DB"),
        ("postgres://db_secret_value@/queue", "it names no host"),
        ("postgres://asched:db_secret_value@db.example:5432/", "it names no database"),
        ("postgres://asched:db_secret_value@db.example:5432/queue?sslmode=on", "its sslmode \"on\" is not one of"),
    ])
    func aBadURLIsNamedWithoutItsPassword(url: String, reason: String) {
        let fromFile = errorText { _ = try parse("database_url: '\(url)'") }
        #expect(fromFile?.hasPrefix("\(Self.file): database_url: the database URL cannot be used: \(reason)") == true, "\(fromFile ?? "")")
        let fromEnvironment = errorText { _ = try parse("", environment: [DaemonConfiguration.databaseURLVariable: url]) }
        #expect(fromEnvironment?.hasPrefix("\(Self.file): ASCHED_DATABASE_URL: the database URL cannot be used: \(reason)") == true)
        #expect(fromFile?.contains("db_secret_value") == false && fromEnvironment?.contains("db_secret_value") == false)
    }

    @Test func anEmptyInstanceNameIsRefused() {
        #expect(errorText { _ = try parse("instance_name: ''") } == "\(Self.file): instance_name: must not be empty")
    }

    @Test func theHelpTextHoldsNoPassword() {
        #expect(ConfigurationKey.helpText.contains("database_url (postgres://USER:PASSWORD@HOST:PORT/DB, default none)"))
        #expect(ConfigurationKey.helpText.contains("instance_name (string, default <hostname>:<listen port>)"))
    }

    @Test func aChangedDatabaseNeedsARestart() throws {
        let before = try parse("database_url: \(Self.secretURL)")
        let after = try parse("database_url: postgres://asched:other_secret@db.example:5433/queue\ninstance_name: west")
        #expect(before.keysNeedingRestart(toApply: after) == ["database_url", "instance_name"])
    }
}
