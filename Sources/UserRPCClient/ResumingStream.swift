import Logging
import StrictJSON
import UserRPCWire

extension UserRPCClient {
    /// Calls the server-streaming `method` with `request`, as ``stream(_:_:options:window:)`` does,
    /// and calls it again after the last message taken whenever the stream breaks (UNAVAILABLE: the
    /// connection lost, its server gone or going away), so that the loop sees every message once.
    ///
    /// The generated client uses this for methods whose schema says how they resume
    /// (`client.v2.watchUsers(…)`). `resumingAfter` makes the request that starts after a cursor
    /// (`nil`: the request as given, asking for bookmarks if the method has them); `cursor` reads a
    /// message's cursor; `isBookmark`, when given, tells the messages that carry only a cursor, which
    /// the loop does not see. A status UNAVAILABLE whose `details.resume_cursor` is set (a server's
    /// graceful shutdown) resumes from there. After ``Configuration/streamResumeAttempts`` breaks in
    /// a row without progress (a message after a call's first, or one that is not a bookmark), the
    /// loop throws the last UNAVAILABLE.
    public func resumingStream<Request, Response>(
        _ method: ServerStreamingMethodDescriptor<Request, Response>, _ request: Request, options: CallOptions = CallOptions(),
        resumingAfter: @escaping @Sendable (Request, String?) -> Request, cursor: @escaping @Sendable (Response) -> String,
        isBookmark: (@Sendable (Response) -> Bool)? = nil
    ) -> ResumingStream<Response> {
        var logger = self.logger
        logger[metadataKey: "method"] = "\(method.fullName)"
        return ResumingStream(attempts: configuration.streamResumeAttempts, logger: logger, cursor: cursor, isBookmark: isBookmark) { [self] after in
            stream(method, resumingAfter(request, after), options: options)
        }
    }

    /// A server stream that resumes after its last message when it breaks
    /// (``UserRPCClient/resumingStream(_:_:options:resumingAfter:cursor:isBookmark:)``); iterate it once.
    /// Leaving the loop, or cancelling its task, cancels the call.
    public struct ResumingStream<Element: Sendable>: AsyncSequence, Sendable {
        public typealias Failure = UserRPCError

        let attempts: Int
        let logger: Logger
        let cursor: @Sendable (Element) -> String
        let isBookmark: (@Sendable (Element) -> Bool)?
        let open: @Sendable (_ after: String?) -> ServerStream<Element>

        public func makeAsyncIterator() -> AsyncIterator {
            AsyncIterator(stream: self)
        }

        /// Takes the messages one by one, across the calls that resume the stream.
        public struct AsyncIterator: AsyncIteratorProtocol {
            public typealias Failure = UserRPCError

            let stream: ResumingStream
            var current: ServerStream<Element>.AsyncIterator?
            /// The cursor of the last message taken (a bookmark's too): where the next call starts.
            public private(set) var lastCursor: String?
            /// Breaks since the stream last made progress.
            var breaks = 0
            /// Messages taken from the current call.
            var takenThisCall = 0

            init(stream: ResumingStream) {
                self.stream = stream
            }

            /// The next message; `nil` once the stream ended OK.
            public mutating func next(isolation actor: isolated (any Actor)?) async throws(UserRPCError) -> Element? {
                while true {
                    if current == nil {
                        current = stream.open(lastCursor).makeAsyncIterator()
                        takenThisCall = 0
                    }
                    do throws(UserRPCError) {
                        guard let element = try await current!.next(isolation: actor) else { return nil }
                        lastCursor = stream.cursor(element)
                        takenThisCall += 1
                        let bookmark = stream.isBookmark?(element) ?? false
                        // Progress: a change, or anything after a call's first message (a server that
                        // answers each call with its opening bookmark, then breaks, is not progress).
                        if !bookmark || takenThisCall > 1 { breaks = 0 }
                        if bookmark { continue }
                        return element
                    } catch  where error.code == .unavailable && !Task.isCancelled {
                        if let resume = error.details?["resume_cursor"]?.stringValue { lastCursor = resume }
                        breaks += 1
                        guard breaks <= stream.attempts else {
                            stream.logger.warning(
                                "stream broke too often without progress: giving up",
                                metadata: ["code": "\(error.code.rawValue)", "breaks": "\(breaks)"])
                            throw error
                        }
                        stream.logger.info(
                            "stream broke: resuming",
                            metadata: ["code": "\(error.code.rawValue)", "error": "\(error.message)", "after": "\(lastCursor ?? "-")"])
                        current = nil
                        // A short pause before calling again (the fleet's next server, or this one back).
                        let pause = Duration.milliseconds(25 << Swift.min(breaks - 1, 5))
                        do {
                            try await Task.sleep(for: pause)
                        } catch {
                            throw UserRPCError(code: .cancelled, message: "call cancelled")
                        }
                    }
                }
            }

            public mutating func next() async throws(UserRPCError) -> Element? {
                try await next(isolation: nil)
            }
        }
    }
}
