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
