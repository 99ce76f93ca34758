import UserRPCWire

/// The one error a ``UserRPCClient`` call throws: the status code, message and details the server
/// sent, or a status the client produced itself (UNAVAILABLE when it cannot connect, DEADLINE_EXCEEDED
/// when the call's timeout passes, CANCELLED when the calling task is cancelled).
///
/// It is the protocol's ``RPCError``, with ``RPCError/fieldViolations`` (INVALID_ARGUMENT) and
/// ``RPCError/conflictingField`` (ALREADY_EXISTS) to read its details.
public typealias UserRPCError = RPCError
