import Logging
import NIOCore
import NIOEmbedded
import StrictJSON
import Testing
import UserRPCServer
import UserRPCWire

/// The read timeout is a minimum data rate (issue #10): checked on a manual clock, with the real
/// connection handler on an `EmbeddedChannel`.
@Suite("A started frame must keep a minimum data rate")
struct FrameArrivalTests {
    @Test("the rule: the initial time, plus a second per minimum-rate bytes received")
    func rule() {
        let rule = FrameArrivalRule(initialTimeout: .seconds(10), minimumBytesPerSecond: 1000)
        let start = NIODeadline.uptimeNanoseconds(5_000_000_000)
        #expect(rule.deadline(frameStartedAt: start, bytesReceived: 0) == start + .seconds(10))
        #expect(rule.deadline(frameStartedAt: start, bytesReceived: 500) == start + .milliseconds(10_500))
        #expect(rule.deadline(frameStartedAt: start, bytesReceived: 4_000_000) == start + .seconds(4010))
        let total = FrameArrivalRule(initialTimeout: .seconds(10), minimumBytesPerSecond: 0)
        #expect(total.deadline(frameStartedAt: start, bytesReceived: 4_000_000) == start + .seconds(10))
        // Never overflows, whatever arrives: capped at a day's credit.
        let huge = rule.deadline(frameStartedAt: start, bytesReceived: .max)
        #expect(huge == start + .seconds(10 + 86_400))
    }

    @Test("a client that drips a byte every two seconds is cut off soon after the read timeout")
    func slowDripIsClosed() throws {
        let connection = try ServedChannel { $0.readTimeout = .seconds(10) }
        try connection.writeInbound([0, 0, 0, 100])  // a frame of 100 bytes begins
        var elapsed = 0
        while connection.isActive && elapsed < 60 {
            connection.advanceTime(by: .seconds(2))
            elapsed += 2
            if connection.isActive { try connection.writeInbound([0x20]) }
        }
        #expect(!connection.isActive, "still open after \(elapsed) s")
        // 10 s, plus a few thousandths of a second for the bytes received: closed by the timer at 10-12 s.
        #expect((10...12).contains(elapsed), "closed after \(elapsed) s")
    }

    @Test("a 4 MiB frame arriving at 64 KiB/s over more than a minute is served, not cut off")
    func largeFrameOnSlowLinkIsServed() throws {
        let connection = try ServedChannel { $0.readTimeout = .seconds(10) }
        let text = String(repeating: "x", count: 4 * 1024 * 1024 - 200)
        let frame = framed(#"{"type":"request","id":7,"method":"test.v1.Test/Echo","payload":{"text":"\#(text)"}}"#)
        var offset = 0
        var seconds = 0
        while offset < frame.count {
            let end = min(offset + 64 * 1024, frame.count)
            try connection.writeInbound(Array(frame[offset..<end]))
            offset = end
            connection.advanceTime(by: .seconds(1))
            seconds += 1
            #expect(connection.isActive, "closed after \(offset) bytes, \(seconds) s")
            if !connection.isActive { return }
        }
        #expect(seconds > 60)
        let answer = try #require(try connection.readFrame())
        #expect(answer["id"]?.uint64Value == 7)
        #expect(answer["status"]?.objectValue?["code"]?.stringValue == "OK")
        #expect(answer["payload"]?.objectValue?["text"]?.stringValue?.utf8.count == text.utf8.count)
    }

    @Test("a busy client whose reads always end inside a frame is not cut off")
    func pipelinedPartialFramesAreNotCutOff() throws {
        let connection = try ServedChannel { $0.readTimeout = .seconds(1) }
        let ping = framed(#"{"type":"ping","id":1}"#)
        // Every second, the rest of one ping and the first half of the next: a frame is always partial.
        try connection.writeInbound(Array(ping[..<10]))
        for _ in 0..<30 {
            connection.advanceTime(by: .milliseconds(900))
            try connection.writeInbound(Array(ping[10...]) + Array(ping[..<10]))
            #expect(connection.isActive)
            #expect(try connection.readFrame()?["type"]?.stringValue == "pong")
        }
        // Then the client stalls mid-frame: cut off after the read timeout.
        connection.advanceTime(by: .milliseconds(1100))
        #expect(!connection.isActive)
    }
}
