import Testing

@testable import UserRPCServer

/// The request-id rules: which client ids are used as they are (what generated ids look like is
/// `RequestID`'s, in the wire tests).
@Suite("Request id rules")
struct RequestIDInterceptorTests {
    @Test("a client's id is used when it is 1 to 128 printable ASCII bytes without spaces, quotes or backslashes")
    func usable() {
        for id in ["a", "req-42", String(repeating: "x", count: 128), "0af7651916cd43dd8448eb211c80319c", "~!#$%&'()*+,-./:;<=>?@[]^_`{|}"] {
            #expect(RequestIDInterceptor.isUsable(id), "\(id)")
        }
        for id in ["", "has space", String(repeating: "x", count: 129), "quote\"d", "back\\slash", "tab\t", "é"] {
            #expect(!RequestIDInterceptor.isUsable(id), "\(id)")
        }
    }

    @Test("traceparent: version, trace id, parent id and flags in lower-case hex")
    func traceparent() {
        #expect(RequestIDInterceptor.isTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"))
        for text in ["00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "00-4bf92f3577b34da6-00f067aa0ba902b7-01", "garbage", ""] {
            #expect(!RequestIDInterceptor.isTraceparent(text), "\(text)")
        }
    }
}
