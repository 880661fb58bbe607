// swift-tools-version: 6.2
// A package outside the tree that embeds appservice-scheduler the way a user would: by URL and
// version. tools/consumer-test copies it to a temporary directory, tags a clone of the checkout
// and sets ASCHED_CONSUMER_DEPENDENCY_URL to that clone's file:// URL.
import PackageDescription

guard let cloneURL = Context.environment["ASCHED_CONSUMER_DEPENDENCY_URL"] else {
    fatalError("set ASCHED_CONSUMER_DEPENDENCY_URL to a tagged clone of appservice-scheduler (tools/consumer-test does)")
}

let package = Package(
    name: "consumer",
    dependencies: [
        .package(url: cloneURL, from: "0.1.0"),
    ],
    targets: [
        // Each executable takes one product, so the build shows what that product pulls in.
        .executableTarget(
            name: "SchedulerConsumer",
            dependencies: [.product(name: "AppServiceScheduler", package: "appservice-scheduler")]
        ),
        .executableTarget(
            name: "LogConsumer",
            dependencies: [.product(name: "SegmentLog", package: "appservice-scheduler")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
