import NIOConcurrencyHelpers
import NIOCore
import StrictJSON
import UserRPCWire

/// Writes the messages of one server-streaming call.
///
/// Each ``write(_:)`` waits until the client has granted credit for one more message and the
/// connection can take it, so a producer never runs ahead of its reader: a stream holds at most one
/// message the client has not asked for yet. Once the call has ended (the client cancelled it, its
/// deadline passed, the server is shutting down, the connection closed), the handler's task is
/// cancelled and a write throws: the status the call ended with when the write was waiting, and
/// CANCELLED for a write made after the end.
public struct ServerStreamWriter<Message: RPCMessage>: Sendable {
    let sink: ServerStreamSink

    /// Sends `message` as the stream's next message, once the client's credit allows it. With
    /// `resumeDetails`, once the message is sent they are what the status says if the server ends
    /// the stream itself (see ``setResumeDetails(_:)``): where to resume after this message.
    public func write(_ message: Message, resumeDetails: JSONObject? = nil) async throws(RPCError) {
        var frame = sink.allocator.buffer(capacity: 256)
        ServerFrame.writeMessage(id: sink.callID, message: message, into: &frame)
        try await sink.send(frame, resumeDetails: resumeDetails)
    }

    /// Sets what the status says if the server ends the stream itself, before the handler returns
    /// (a graceful shutdown's grace period over): the details a client needs to resume the stream
    /// elsewhere (`resume_cursor`, say). Call it only while no write is waiting (to move the resume
    /// point past what the handler leaves out); a message's own resume point is given with it
    /// (``write(_:resumeDetails:)``), and takes effect once the message is sent.
    public func setResumeDetails(_ details: JSONObject) {
        sink.resumeDetails.withLockedValue { $0 = details }
    }
}

/// Where a stream's frames go: its connection, on the connection's event loop.
final class ServerStreamSink: Sendable {
    let callID: UInt64
    /// ``ServerStreamWriter/setResumeDetails(_:)``: added to an UNAVAILABLE the server ends the stream with.
    let resumeDetails = NIOLockedValueBox<JSONObject?>(nil)
    let allocator: ByteBufferAllocator
    private let eventLoop: any EventLoop
    private let deliver:
        @Sendable (_ frame: ByteBuffer, _ resumeDetails: JSONObject?, _ sent: CheckedContinuation<Result<Void, RPCError>, Never>) -> Void

    /// `deliver` runs on `eventLoop`: it writes the frame (or holds it until credit comes), sets
    /// ``resumeDetails`` to the message's once it is written, and resumes `sent` then, or with the
    /// call's end.
    init(
        callID: UInt64, allocator: ByteBufferAllocator, eventLoop: any EventLoop,
        deliver: @escaping @Sendable (ByteBuffer, JSONObject?, CheckedContinuation<Result<Void, RPCError>, Never>) -> Void
    ) {
        self.callID = callID
        self.allocator = allocator
        self.eventLoop = eventLoop
        self.deliver = deliver
    }

    func send(_ frame: ByteBuffer, resumeDetails: JSONObject?) async throws(RPCError) {
        let result = await withCheckedContinuation { (sent: CheckedContinuation<Result<Void, RPCError>, Never>) in
            let deliver = self.deliver
            eventLoop.execute { deliver(frame, resumeDetails, sent) }
        }
        try result.get()
    }
}

/// The payload of the response that ends a stream OK: an empty object.
struct StreamEnd: RPCMessage {
    static let messageName = ""
    init() {}
    init(fields: inout some MessageFieldReader) {}
    func write(fields: inout MessageFieldWriter) {}
}
