@_exported import HealthV1
@_exported import ReflectionV1
// What the client's public API uses is part of it: `import UserRPCClient` is all an embedding program
// needs. The protocol's types (`MethodDescriptor`, `RPCError`, `RPCMessage`, …), the JSON values of
// by-name calls (`JSONObject`, `JSONValue`), the `user.v1` messages and methods (`UserServiceV1`,
// `User`, `GetUserRequest`, …) and `user.v2`'s (`UserServiceV2`, with its messages nested in it).
@_exported import StrictJSON
@_exported import UserRPCWire
@_exported import UserV1
@_exported import UserV2

// The Foundation value types the messages hold (a user's `id: UUID`, its `createdAt: Date`): a
// program that only calls the service uses them without importing Foundation itself.
#if canImport(FoundationEssentials)
    @_exported import struct FoundationEssentials.UUID
    @_exported import struct FoundationEssentials.Date
#else
    @_exported import struct Foundation.UUID
    @_exported import struct Foundation.Date
#endif
