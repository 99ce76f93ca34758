import Logging
import NIOConcurrencyHelpers

/// Keeps every log line (message and metadata) a logger writes, for tests that check what is logged.
public final class CapturedLogs: Sendable {
    private let lines = NIOLockedValueBox<[String]>([])

    public init() {}

    /// A logger at `trace` level whose output lands here.
    public func logger(label: String = "captured") -> Logger {
        var logger = Logger(label: label) { [self] label in Handler(sink: self) }
        logger.logLevel = .trace
        return logger
    }

    /// Everything logged so far, one string per line.
    public var all: [String] { lines.withLockedValue { $0 } }

    fileprivate func append(_ line: String) { lines.withLockedValue { $0.append(line) } }

    private struct Handler: LogHandler {
        let sink: CapturedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
            sink.append("\(event.level) \(event.message) \(merged)")
        }
    }
}
