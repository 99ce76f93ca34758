import Testing

@testable import UserRPCServer

/// The flow control of one stream, as a value: what is sent and what is held, for each event.
@Suite("Server stream flow control")
struct ServerStreamFlowTests {
    @Test("messages go out while credit lasts; the rest are held, in order, until credit comes")
    func creditAndHolding() {
        var flow = ServerStreamFlow<Int>(window: 2)
        #expect(flow.offer(1, canWrite: true) == [1])
        #expect(flow.offer(2, canWrite: true) == [2])
        #expect(flow.offer(3, canWrite: true) == [])
        #expect(flow.offer(4, canWrite: true) == [])
        #expect(flow.held == [3, 4] && flow.credit == 0)
        #expect(flow.grant(1, canWrite: true) == [3])
        #expect(flow.grant(5, canWrite: true) == [4])
        #expect(flow.credit == 4 && flow.held.isEmpty)
    }

    @Test("a connection that cannot take output holds messages whatever the credit, and releases them when it can")
    func writability() {
        var flow = ServerStreamFlow<Int>(window: 10)
        #expect(flow.offer(1, canWrite: false) == [])
        #expect(flow.grant(1, canWrite: false) == [])
        #expect(flow.credit == 11)
        #expect(flow.writable() == [1])
        #expect(flow.credit == 10)
    }

    @Test("a window of 0 sends nothing until credit; credit saturates instead of overflowing")
    func zeroWindowAndSaturation() {
        var flow = ServerStreamFlow<Int>(window: 0)
        #expect(flow.offer(1, canWrite: true) == [])
        #expect(flow.grant(.max, canWrite: true) == [1])
        #expect(flow.grant(.max, canWrite: true) == [])
        #expect(flow.credit == .max)
    }

    @Test("the end of the call hands back what was held, never sent")
    func end() {
        var flow = ServerStreamFlow<Int>(window: 0)
        _ = flow.offer(1, canWrite: true)
        _ = flow.offer(2, canWrite: true)
        #expect(flow.end() == [1, 2])
        #expect(flow.held.isEmpty)
    }
}
