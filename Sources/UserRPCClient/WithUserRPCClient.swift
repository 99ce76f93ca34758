import NIOCore
import NIOPosix

/// Runs `body` with a client of the server `configuration` names, then closes it, whether `body`
/// returns or throws: the scoped form of ``UserRPCClient/init(configuration:eventLoopGroup:)`` and
/// ``UserRPCClient/close()``.
///
/// ```swift
/// let user = try await withUserRPCClient(.init(host: "127.0.0.1", port: 50051)) { client in
///     try await client.v2.getUser(id: id)
/// }
/// ```
public func withUserRPCClient<Value, Failure: Error>(
    _ configuration: UserRPCClient.Configuration, eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
    _ body: (UserRPCClient) async throws(Failure) -> Value
) async throws(Failure) -> Value {
    let client = UserRPCClient(configuration: configuration, eventLoopGroup: eventLoopGroup)
    do {
        let value = try await body(client)
        await client.close()
        return value
    } catch {
        await client.close()
        throw error
    }
}
