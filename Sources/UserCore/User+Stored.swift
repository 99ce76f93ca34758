import StrictJSON

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension User {
    /// A user from the values every store keeps: its id as text, its times as whole milliseconds
    /// since 1970. The one mapping from stored values to the entity (PostgreSQL's rows, SQLite's,
    /// Redis's entries); `nil` when the id is not a UUID.
    public init?(
        storedID: String, username: String, email: String, createdAtMilliseconds: Int64, updatedAtMilliseconds: Int64, version: UInt64
    ) {
        guard let id = UUID(strictText: storedID) else { return nil }
        self.init(
            id: id, username: username, email: email, createdAt: Date(timeIntervalSince1970: Double(createdAtMilliseconds) / 1000),
            updatedAt: Date(timeIntervalSince1970: Double(updatedAtMilliseconds) / 1000), version: version)
    }

    /// ``createdAt`` as stores keep it: whole milliseconds since 1970.
    public var createdAtMilliseconds: Int64 { RFC3339.milliseconds(createdAt) }

    /// ``updatedAt`` as stores keep it: whole milliseconds since 1970.
    public var updatedAtMilliseconds: Int64 { RFC3339.milliseconds(updatedAt) }
}
