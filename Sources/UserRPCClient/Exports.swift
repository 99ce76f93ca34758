// The `user.v1` messages (`User`, `SearchUsersResponse`, …) are part of the client's API:
// `import UserRPCClient` is all an embedding program needs.
@_exported import UserV1
