import Foundation
import Logging
import StrictJSON

/// Writes each log event to standard error as one JSON object on its own line (JSON lines), for log
/// collectors: `{"timestamp":"2026-11-29T10:15:00.123Z","level":"info","label":"user-rpc-server",
/// "message":"call failed","metadata":{"request_id":"…","method":"…"}}`. Metadata values are
/// strings; nested lists and dictionaries are written as JSON arrays and objects.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    /// Serializes writes from every thread, so lines never interleave.
    private static let output = NSLock()

    init(label: String, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.metadataProvider = metadataProvider
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let own = event.metadata { merged.merge(own) { _, new in new } }
        var writer = JSONWriter(reservingCapacity: 256)
        writer.beginObject()
        writer.key("timestamp")
        writer.string(RFC3339.format(Date()))
        writer.key("level")
        writer.string(event.level.rawValue)
        writer.key("label")
        writer.string(label)
        writer.key("message")
        writer.string("\(event.message)")
        if !merged.isEmpty {
            writer.key("metadata")
            Self.write(.dictionary(merged), into: &writer)
        }
        writer.endObject()
        var line = writer.bytes
        line.append(UInt8(ascii: "\n"))
        Self.output.lock()
        defer { Self.output.unlock() }
        line.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Foundation.write(2, bytes.baseAddress! + offset, bytes.count - offset)
                if written <= 0 { break }
                offset += written
            }
        }
    }

    private static func write(_ value: Logger.MetadataValue, into writer: inout JSONWriter) {
        switch value {
        case .string(let text):
            writer.string(text)
        case .stringConvertible(let convertible):
            writer.string(convertible.description)
        case .array(let values):
            writer.beginArray()
            for element in values { write(element, into: &writer) }
            writer.endArray()
        case .dictionary(let entries):
            writer.beginObject()
            for (key, element) in entries.sorted(by: { $0.key < $1.key }) {
                writer.key(key)
                write(element, into: &writer)
            }
            writer.endObject()
        }
    }
}
