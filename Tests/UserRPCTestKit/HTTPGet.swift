import Foundation

/// One HTTP/1.1 exchange with a server on `host` (an IPv4 address) that closes the connection after
/// its answer (as the metrics endpoint does): the status code and the body.
public func httpRequest(host: String = "127.0.0.1", port: Int, method: String = "GET", path: String) async throws -> (status: Int, body: String) {
    try await blocking {
        let client = try SocketClient(host: host, port: port)
        try client.send(Array("\(method) \(path) HTTP/1.1\r\nHost: \(host)\r\n\r\n".utf8))
        let text = String(decoding: try client.readToEnd(for: 10), as: UTF8.self)
        guard let headerEnd = text.range(of: "\r\n\r\n"), let statusText = text.split(separator: " ", maxSplits: 2).dropFirst().first,
            let status = Int(statusText)
        else { throw SocketClientError(message: "not an HTTP response: \(text)") }
        return (status, String(text[headerEnd.upperBound...]))
    }
}

/// The samples of a Prometheus text exposition, by series (`name{label="value",…}`), comments left out.
public func prometheusSamples(_ text: String) -> [String: Double] {
    var samples: [String: Double] = [:]
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
        guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
        samples[String(line[..<space])] = value
    }
    return samples
}
