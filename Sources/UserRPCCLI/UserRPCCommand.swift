import ArgumentParser

/// `user-rpc`: the command-line client of user.v1.UserService.
@main
struct UserRPCCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user-rpc",
        abstract: "Calls user.v1.UserService over the framed JSON protocol.",
        discussion: """
            Exit status: 0 on success, 64 for a usage error, and 100 + the gRPC status number when a call
            fails (101 CANCELLED … 116 UNAUTHENTICATED; 114 UNAVAILABLE also when the server cannot be reached).
            """,
        subcommands: [CallCommand.self, ListCommand.self, DescribeCommand.self, BenchCommand.self])
}
