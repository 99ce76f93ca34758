import StrictJSON
import UserRPCWire

/// `health.v1.HealthCheckRequest`: which service to check.
public struct HealthCheckRequest: RPCMessage, Hashable {
    /// `HealthCheckRequest`, the message's name in the schema.
    public static let messageName = "HealthCheckRequest"

    /// A full service name (`user.v1.UserService`); `nil` or empty asks about the whole server.
    public var service: String?

    /// A check of `service`, or of the whole server.
    public init(service: String? = nil) {
        self.service = service
    }

    /// Reads the message's fields from `fields` (see ``RPCMessage/init(fields:)``).
    @inlinable
    public init(fields: inout some MessageFieldReader) {
        service = fields.optional("service", as: String.self)
    }

    /// Writes the message's fields to `fields`, in schema order.
    @inlinable
    public func write(fields: inout MessageFieldWriter) {
        fields.field("service", service)
    }
}

/// `health.v1.HealthCheckResponse`: the serving status, and what is wrong when something is.
public struct HealthCheckResponse: RPCMessage, Hashable {
    /// `HealthCheckResponse`, the message's name in the schema.
    public static let messageName = "HealthCheckResponse"

    /// Whether the server (or the service asked about) can serve calls now.
    public var status: ServingStatus
    /// One sentence per dependency that is not healthy, separated by `; `, including one that only
    /// degrades the service (the cache, while ``ServingStatus/serving``); `nil` when all are healthy.
    public var detail: String?

    /// A status, with what is wrong when something is.
    public init(status: ServingStatus, detail: String? = nil) {
        self.status = status
        self.detail = detail
    }

    /// Reads the message's fields from `fields` (see ``RPCMessage/init(fields:)``).
    @inlinable
    public init(fields: inout some MessageFieldReader) {
        status = fields.required("status", as: ServingStatus.self)
        detail = fields.optional("detail", as: String.self)
    }

    /// Writes the message's fields to `fields`, in schema order.
    @inlinable
    public func write(fields: inout MessageFieldWriter) {
        fields.field("status", status)
        fields.field("detail", detail)
    }
}

/// A serving status, as `HealthCheckResponse.status` spells it on the wire.
public enum ServingStatus: String, Sendable, Hashable, CaseIterable, MessageFieldValue {
    /// Calls can be served.
    case serving = "SERVING"
    /// Calls cannot be served now: a required dependency is unreachable, or the server is shutting down.
    case notServing = "NOT_SERVING"
    /// The server hosts no service of the name asked about.
    case unknownService = "UNKNOWN_SERVICE"

    /// ``serving``; never seen, since a message missing its status is refused.
    public static var placeholder: ServingStatus { .serving }

    /// One of the three names; anything else is a problem naming them.
    public static func read(json: JSONValue) -> Result<ServingStatus, FieldProblem> {
        guard case .string(let text) = json else { return .failure(FieldProblem("must be a string, not \(json.typeName)")) }
        guard let status = ServingStatus(rawValue: text) else {
            return .failure(FieldProblem("must be one of \(allCases.map(\.rawValue).joined(separator: ", "))"))
        }
        return .success(status)
    }

    /// The name from plain string bytes.
    public static func read(plain bytes: UnsafeRawBufferPointer, isString: Bool) -> ServingStatus? {
        isString ? ServingStatus(rawValue: String(decoding: bytes, as: UTF8.self)) : nil
    }

    /// Writes the name as a JSON string.
    public func write(to writer: inout MessageFieldWriter) { rawValue.write(to: &writer) }
}
