import Foundation

/// A CA, a server certificate (for 127.0.0.1 and localhost) and a client certificate, made with the
/// `openssl` command in a temporary folder for one test run. No private key is committed anywhere.
public struct TestCertificates: Sendable {
    public let directory: String
    public var caCertificate: String { directory + "/ca.pem" }
    public var serverCertificate: String { directory + "/server.pem" }
    public var serverKey: String { directory + "/server.key" }
    public var clientCertificate: String { directory + "/client.pem" }
    public var clientKey: String { directory + "/client.key" }
    /// A certificate and key signed by a different CA, which the server must not accept.
    public var strangerCertificate: String { directory + "/stranger.pem" }
    public var strangerKey: String { directory + "/stranger.key" }

    public static func make() throws -> TestCertificates {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("user-rpc-tls-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
        let script = """
            set -e
            cd '\(directory)'
            openssl req -x509 \(ec) -keyout ca.key -out ca.pem -days 2 -subj /CN=user-rpc-test-ca 2>/dev/null
            openssl req -x509 \(ec) -keyout other-ca.key -out other-ca.pem -days 2 -subj /CN=stranger-ca 2>/dev/null
            printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nextendedKeyUsage=serverAuth\\n' > server.ext
            printf 'extendedKeyUsage=clientAuth\\n' > client.ext
            openssl req \(ec) -keyout server.key -out server.csr -subj /CN=localhost 2>/dev/null
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile server.ext 2>/dev/null
            openssl req \(ec) -keyout client.key -out client.csr -subj /CN=test-client 2>/dev/null
            openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2 -extfile client.ext 2>/dev/null
            openssl req \(ec) -keyout stranger.key -out stranger.csr -subj /CN=stranger 2>/dev/null
            openssl x509 -req -in stranger.csr -CA other-ca.pem -CAkey other-ca.key -CAcreateserial -out stranger.pem -days 2 -extfile client.ext 2>/dev/null
            """
        let scriptPath = directory + "/make.sh"
        try script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        guard launchingChildren({ system("bash '\(scriptPath)' </dev/null >/dev/null 2>&1") }) == 0 else {
            throw ServiceError(message: "openssl could not make test certificates (is the openssl package installed?)")
        }
        return TestCertificates(directory: directory)
    }

    public func remove() {
        try? FileManager.default.removeItem(atPath: directory)
    }
}
