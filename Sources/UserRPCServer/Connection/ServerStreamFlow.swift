/// The flow control of one server-streaming call: the server sends a message only while the client
/// has granted credit for it and the connection can take it; otherwise the message is held (and
/// its producer waits) until credit or room comes.
///
/// A pure value, driven by its connection on the event loop (and by its unit tests with no loop at
/// all). `Message` is what is held: the connection holds the encoded frame and the producer's
/// continuation.
struct ServerStreamFlow<Message> {
    /// Messages the client may still receive.
    private(set) var credit: UInt64
    /// Messages ready but not sent, in order: one per producer waiting in `write` (a producer writes
    /// one message at a time, so this is one message unless it writes from several tasks at once).
    private(set) var held: [Message] = []

    /// A stream whose request granted `window` messages.
    init(window: UInt64) {
        credit = window
    }

    /// A message is ready: returns what to send now (the held messages first, in order, then this
    /// one, while credit lasts) and holds the rest.
    mutating func offer(_ message: Message, canWrite: Bool) -> [Message] {
        held.append(message)
        return release(canWrite: canWrite)
    }

    /// The client granted `add` more messages (the total saturates at `UInt64.max`): returns the held
    /// messages to send now.
    mutating func grant(_ add: UInt64, canWrite: Bool) -> [Message] {
        let (sum, overflow) = credit.addingReportingOverflow(add)
        credit = overflow ? .max : sum
        return release(canWrite: canWrite)
    }

    /// The connection can take more output again: returns the held messages to send now.
    mutating func writable() -> [Message] {
        release(canWrite: true)
    }

    /// The call ended: returns the messages still held, which will never be sent.
    mutating func end() -> [Message] {
        defer { held = [] }
        return held
    }

    private mutating func release(canWrite: Bool) -> [Message] {
        guard canWrite, credit > 0, !held.isEmpty else { return [] }
        let count = Int(min(credit, UInt64(held.count)))
        credit -= UInt64(count)
        let released = Array(held.prefix(count))
        held.removeFirst(count)
        return released
    }
}
