import ArgumentParser

/// `user-rpc`: the command-line client of the user services (and of any server's health).
@main
struct UserRPCCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user-rpc",
        abstract: "Calls user.v1 and user.v2 UserService, and health.v1.Health, over the framed JSON protocol.",
        discussion: """
            Exit status: 0 on success, 64 for a usage error, and 100 + the gRPC status number when a call
            fails (101 CANCELLED … 116 UNAUTHENTICATED; 114 UNAVAILABLE also when the server cannot be reached).
            """,
        subcommands: [CallCommand.self, ListCommand.self, DescribeCommand.self, HealthCommand.self, WatchCommand.self, BenchCommand.self])
}
