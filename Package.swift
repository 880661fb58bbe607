// swift-tools-version: 6.2
import PackageDescription

// No unsafe build flags anywhere: SwiftPM refuses them in a versioned dependency, so they would make the
// library impossible to embed. Warning control is safe: SwiftPM applies it only when this package
// is built as the root, so the strictness is ours and costs consumers nothing.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .treatWarning("ExplicitSendable", as: .warning),
]

let package = Package(
    name: "appservice-scheduler",
    products: [
        .library(name: "SegmentLog", targets: ["SegmentLog"]),
        .library(name: "SegmentLogTesting", targets: ["SegmentLogTesting"]),
        .library(name: "AppServiceScheduler", targets: ["AppServiceScheduler"]),
        .library(name: "AppServiceSchedulerTesting", targets: ["AppServiceSchedulerTesting"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CLZ4",
            pkgConfig: "liblz4",
            providers: [.apt(["liblz4-dev"])]
        ),
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .target(name: "CChecksum"),
        .target(
            name: "SegmentLog",
            dependencies: ["CLZ4", "CChecksum"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "SegmentLogTesting",
            dependencies: ["SegmentLog"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "AppServiceScheduler",
            dependencies: ["SegmentLog", .product(name: "DequeModule", package: "swift-collections")],
            swiftSettings: strictSettings
        ),
        .target(
            name: "AppServiceSchedulerTesting",
            dependencies: ["AppServiceScheduler", "SegmentLogTesting"],
            swiftSettings: strictSettings
        ),
        // A module, not yet a product: SwiftPM fetches the dependencies of every product a package
        // declares for every package that depends on it, so a product here would make each embedder
        // of the log or the scheduler fetch postgres-nio and SwiftNIO (tools/consumer-test refuses that).
        .target(
            name: "AppServiceSchedulerPostgres",
            dependencies: [
                "AppServiceScheduler", "SegmentLog",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "AppServiceHTTP",
            dependencies: [
                "AppServiceScheduler", "AppServiceSchedulerPostgres", "SegmentLog",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "asched",
            dependencies: [
                "SegmentLog", "AppServiceScheduler", "AppServiceSchedulerPostgres", "AppServiceHTTP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "segmentlog-bench",
            dependencies: ["SegmentLog", "CSQLite", "CChecksum", "BenchSupport"],
            swiftSettings: strictSettings
        ),
        .target(name: "BenchSupport", swiftSettings: strictSettings),
        .executableTarget(
            name: "asched-bench",
            dependencies: [
                "BenchSupport", "AppServiceHTTP", "AppServiceScheduler", "SegmentLog",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "asched-simulate",
            dependencies: ["AppServiceSchedulerTesting"],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "make-fixtures",
            dependencies: ["SegmentLog", "SegmentLogTesting", "AppServiceSchedulerTesting"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SegmentLogTests",
            dependencies: ["SegmentLog", "SegmentLogTesting", "CChecksum"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AppServiceHTTPTests",
            dependencies: [
                "AppServiceHTTP", "AppServiceScheduler", "AppServiceSchedulerPostgres", "AppServiceSchedulerTesting", "SegmentLog",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "aschedTests",
            dependencies: [
                "AppServiceScheduler", "AppServiceSchedulerTesting", "SegmentLog", "SegmentLogTesting", "asched",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AppServiceSchedulerTests",
            dependencies: ["AppServiceScheduler", "AppServiceSchedulerTesting", "SegmentLogTesting"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AppServiceSchedulerPostgresTests",
            dependencies: [
                "AppServiceSchedulerPostgres", "AppServiceScheduler", "AppServiceSchedulerTesting", "SegmentLog",
                "AppServiceHTTP", "asched",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
