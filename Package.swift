// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "user-rpc",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "user-rpc-server", targets: ["UserRPCServerMain"]),
        .executable(name: "user-rpc", targets: ["UserRPCCLI"]),
        .executable(name: "user-rpc-generate", targets: ["UserRPCGenerator"]),
        .library(name: "UserRPCClient", targets: ["UserRPCClient"]),
        .library(name: "UserRPCServer", targets: ["UserRPCServer"]),
        .library(name: "UserService", targets: ["UserService"]),
        .library(name: "UserV1", targets: ["UserV1"]),
        .library(name: "UserV2", targets: ["UserV2"]),
        .library(name: "HealthV1", targets: ["HealthV1"]),
        .library(name: "ReflectionV1", targets: ["ReflectionV1"]),
        .library(name: "UserCore", targets: ["UserCore"]),
        .library(name: "UserRPCWire", targets: ["UserRPCWire"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // Strict JSON: a parser that rejects what it does not understand, and a writer. No dependencies.
        .target(name: "StrictJSON"),
        // One type for a result given now or later (`Answer`), from the domain to the wire. No dependencies.
        .target(name: "NowOrLater"),
        // The code generator: Schemas/<package>.json -> messages, descriptors, embedded schema, service
        // protocol and typed client (scripts/generate.sh runs it; its output is committed and checked).
        .executableTarget(name: "UserRPCGenerator", dependencies: ["StrictJSON"]),
        // The versioned `user.v1` messages (the service boundary) and the embedded copy of the schema.
        .target(name: "UserV1", dependencies: ["UserRPCWire"], resources: [.embedInCode("Generated/user.v1.json")]),
        // The versioned `user.v2` messages (users that change and leave); the messages it keeps from user.v1 are user.v1's types.
        .target(name: "UserV2", dependencies: ["UserRPCWire", "UserV1", "StrictJSON"], resources: [.embedInCode("Generated/user.v2.json")]),
        // The `health.v1` messages: the health-checking service every server hosts.
        .target(name: "HealthV1", dependencies: ["UserRPCWire", "StrictJSON"], resources: [.embedInCode("Generated/health.v1.json")]),
        // The `reflection.v1` messages: the service that lists a server's services and their schemas.
        .target(name: "ReflectionV1", dependencies: ["UserRPCWire"], resources: [.embedInCode("Generated/reflection.v1.json")]),
        // The domain: entities, validation, errors, logic, ports, repository, the execution policy and
        // the in-memory adapters. No NIO, no API version; SHA-256 and HMAC from swift-crypto.
        .target(name: "UserCore", dependencies: ["StrictJSON", "NowOrLater", .product(name: "Crypto", package: "swift-crypto")]),
        // PostgreSQL store adapter (libpq) and Redis cache adapter (hiredis), behind UserCore's ports.
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        // The durable embedded store (SQLite, through its C API), read from memory, written to disk.
        .target(
            name: "UserStoreSQLite",
            dependencies: [
                "CSQLite", "UserCore", "StrictJSON",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            // Every file of Migrations/ (scripts/generate.sh lists them in Generated/ for the migrator).
            resources: [.embedInCode("Migrations")]
        ),
        .target(
            name: "UserStorePostgres",
            dependencies: [
                "CLibPQ", "UserCore", "StrictJSON",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            // Every file of Migrations/ (scripts/generate.sh lists them in Generated/ for the migrator).
            resources: [.embedInCode("Migrations")]
        ),
        .target(
            name: "UserCacheRedis",
            dependencies: [
                "CHiredis", "UserCore", "StrictJSON",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // The Prometheus scrape endpoint: `GET /metrics` over HTTP/1.1, the registry in the text format.
        .target(
            name: "MetricsEndpoint",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Wire protocol v1: frames, envelopes, status codes and the frame codec, shared by server and client.
        .target(
            name: "UserRPCWire",
            dependencies: [
                "StrictJSON",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // The server of the protocol: router, interceptors, connections. Knows nothing of users.
        .target(
            name: "UserRPCServer",
            dependencies: [
                "UserRPCWire", "StrictJSON", "HealthV1", "ReflectionV1", "NowOrLater",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The user services (user.v1, user.v2) over the domain: request messages in, domain operations, response
        // messages out; and the composition root the server binary and the test kit share (UserRPCApplication).
        .target(
            name: "UserService",
            dependencies: [
                "UserCore", "UserV1", "UserV2", "UserRPCServer", "UserRPCWire", "StrictJSON", "NowOrLater",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .executableTarget(
            name: "UserRPCServerMain",
            dependencies: [
                "UserRPCServer", "UserService", "UserCore", "UserRPCWire", "UserStorePostgres", "UserStoreSQLite", "UserCacheRedis", "StrictJSON",
                "MetricsEndpoint",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "UserRPCClient",
            dependencies: [
                "UserV1", "UserV2", "HealthV1", "ReflectionV1", "UserRPCWire", "StrictJSON",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "UserRPCCLI",
            dependencies: [
                "UserRPCClient", "UserV1", "UserV2", "HealthV1", "ReflectionV1", "UserRPCWire", "StrictJSON",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        // Seeded randomness and byte mutations for the generated-input tests.
        .target(name: "SeededMutation", path: "Tests/SeededMutation"),
        .testTarget(name: "StrictJSONTests", dependencies: ["StrictJSON", "SeededMutation"]),
        .testTarget(name: "UserRPCGeneratorTests", dependencies: ["UserRPCGenerator"]),
        .testTarget(
            name: "UserCoreTests",
            dependencies: ["UserCore", "StrictJSON", "NowOrLater", .product(name: "NIOConcurrencyHelpers", package: "swift-nio")]
        ),
        .testTarget(
            name: "UserRPCWireTests",
            dependencies: [
                "UserRPCWire", "StrictJSON", "SeededMutation",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
            ]
        ),
        // Helpers for tests: a live server on an ephemeral port (on either backend), a raw protocol
        // connection, a store that holds calls in flight, a schema validator.
        .target(
            name: "UserRPCTestKit",
            dependencies: [
                "UserRPCServer", "UserService", "UserStorePostgres", "UserStoreSQLite", "UserCacheRedis", "UserRPCClient", "UserCore", "UserV1",
                "UserRPCWire",
                "StrictJSON",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/UserRPCTestKit"
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "UserRPCTestKit", "UserRPCServer", "UserService", "UserRPCClient", "UserCore", "UserV1", "UserV2", "HealthV1", "ReflectionV1",
                "UserRPCWire",
                "StrictJSON", "SeededMutation",
                "UserStoreSQLite",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            exclude: ["Golden"]
        ),
        // The server's connection handling on an EmbeddedChannel with a manual clock: no sockets, no waiting.
        .testTarget(
            name: "UserRPCServerTests",
            dependencies: [
                "UserRPCServer", "UserRPCWire", "StrictJSON",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "UserRPCTestKit", "UserStorePostgres", "UserStoreSQLite", "UserCacheRedis", "UserRPCServer", "UserRPCClient", "UserCore", "UserV1",
                "UserV2",
                "HealthV1", "StrictJSON",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
