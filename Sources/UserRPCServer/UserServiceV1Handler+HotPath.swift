import NIOCore
import UserCore
import UserRPCWire

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension UserServiceV1Handler {
    /// Answers a scanned call on the event loop, straight from the frame's bytes into `output`, when it
    /// is a GetUser for an existing user on a store that never blocks. Returns `false` — having written
    /// nothing — for every other call, which then takes the general path.
    ///
    /// The answer is byte for byte the general path's answer; the general path also gives every error.
    func answerOnHotPath(_ request: ScannedRequest, frame bytes: UnsafeRawBufferPointer, into output: inout ByteBuffer) -> Bool {
        guard let scanned = Self.scannedGetUserID(request, frame: bytes), let user = try? inlineRepository?.user(id: scanned.id)
        else { return false }
        ResponseFrameWriter.writeOKResponse(id: request.id, payloadCapacity: user.v1JSONCapacity, into: &output) { cursor in
            cursor.writeUserV1JSON(user)
        }
        return true
    }
}

extension UserServiceV1Handler {
    /// The id of a scanned GetUser call in the common shape, `{"id": "<uuid>"}`, and the bytes of its
    /// text; `nil` for any other call.
    static func scannedGetUserID(_ request: ScannedRequest, frame bytes: UnsafeRawBufferPointer) -> (id: UUID, text: Range<Int>)? {
        guard request.payload.count == 1, bytes.bytes(in: request.method, equal: "user.v1.UserService/GetUser") else { return nil }
        let member = request.payload[0]
        guard member.isString, bytes.bytes(in: member.key, equal: "id"),
            let id = UUID(strictTextUTF8: UnsafeRawBufferPointer(rebasing: bytes[member.value]))
        else { return nil }
        return (id, member.value)
    }
}

extension UserCore.User {
    /// The most bytes ``JSONByteCursor/writeUserV1JSON(_:)`` writes for this user.
    var v1JSONCapacity: Int {
        64 + 36 + RFC3339.formattedLength + JSONByteCursor.maxJSONStringLength(username) + JSONByteCursor.maxJSONStringLength(email)
    }
}

extension JSONByteCursor {
    /// Writes `user` as a `user.v1.User` object, with the bytes of `UserV1.User.encode(into:)`.
    mutating func writeUserV1JSON(_ user: UserCore.User) {
        write(#"{"id":""#)
        write(count: 36) { user.id.writeLowercasedText(into: $0) }
        write(#"","username":"#)
        writeJSONString(user.username)
        write(#","email":"#)
        writeJSONString(user.email)
        write(#","created_at":""#)
        write(count: RFC3339.formattedLength) { RFC3339.write(user.createdAt, into: $0) }
        write(#""}"#)
    }
}
