// swift-tools-version:6.2
// Micro-benchmarks of the hot path (codec and dispatch), with ordo-one/benchmark: instructions,
// allocations, CPU. A package of its own, so the product links none of the benchmark machinery.
//
//   swift package --package-path Benchmarks benchmark                      # run and print
//   swift package --package-path Benchmarks benchmark thresholds check     # the CI allocation gate
import PackageDescription

let package = Package(
    name: "user-rpc-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "user-rpc", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        .executableTarget(
            name: "HotPath",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "UserRPCWire", package: "user-rpc"),
                .product(name: "UserRPCServer", package: "user-rpc"),
                .product(name: "UserService", package: "user-rpc"),
                .product(name: "UserCore", package: "user-rpc"),
                .product(name: "UserV1", package: "user-rpc"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            path: "Benchmarks/HotPath",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    ],
    swiftLanguageModes: [.v6]
)
