import Foundation
import Testing
import UserRPCClient
import UserRPCServer
import UserRPCTestKit

@Suite("TLS")
struct TLSTests {
    @Test("calls work over TLS; a plaintext client, or a client that does not trust the server, cannot talk to it")
    func serverTLS() async throws {
        let certificates = try await blocking { try TestCertificates.make() }
        defer { certificates.remove() }
        try await TestServer.start {
            $0.tls = TLSSettings(certificateChainPath: certificates.serverCertificate, privateKeyPath: certificates.serverKey)
        }.scoped { server in
            var configuration = UserRPCClient.Configuration(host: "127.0.0.1", port: server.port)
            configuration.defaultTimeout = .seconds(10)
            configuration.tls = UserRPCClient.TLS(trustedCAPath: certificates.caCertificate)
            let secure = UserRPCClient(configuration: configuration)
            let user = try await secure.registerUser(username: "secure", email: "secure@example.com")
            #expect(try await secure.getUser(id: user.id) == user)

            let plaintext = server.client()
            let refused = await #expect(throws: UserRPCError.self) { try await plaintext.getUser(id: user.id) }
            #expect(refused?.code == .unavailable)
            #expect(refused?.message.contains("TLS") == true, "a plaintext client is told TLS is the likely cause: \(refused?.message ?? "")")

            var untrusting = configuration
            untrusting.tls = UserRPCClient.TLS()  // system roots: our test CA is not among them
            let suspicious = UserRPCClient(configuration: untrusting)
            let unverified = await #expect(throws: UserRPCError.self) { try await suspicious.getUser(id: user.id) }
            #expect(unverified?.code == .unavailable)

            for client in [secure, plaintext, suspicious] { await client.close() }
        }
    }

    @Test("connection failures read as a person would write them: connection refused; TLS against a plaintext port says so")
    func readableFailures() async throws {
        let refusedClient = UserRPCClient(configuration: .init(host: "127.0.0.1", port: 1))
        let refused = await #expect(throws: UserRPCError.self) { try await refusedClient.ping() }
        #expect(refused?.message == "cannot connect to 127.0.0.1:1: connection refused")
        await refusedClient.close()

        try await withTestServer { server in
            var configuration = UserRPCClient.Configuration(host: "127.0.0.1", port: server.port)
            configuration.tls = UserRPCClient.TLS()
            let tlsClient = UserRPCClient(configuration: configuration)
            let mismatch = await #expect(throws: UserRPCError.self) { try await tlsClient.ping() }
            #expect(mismatch?.code == .unavailable)
            #expect(mismatch?.message.contains("if the server serves plaintext, connect without TLS") == true, "\(mismatch?.message ?? "")")
            await tlsClient.close()
        }
    }

    @Test("with a client CA, only clients with a certificate it signed get through (mutual TLS)")
    func mutualTLS() async throws {
        let certificates = try await blocking { try TestCertificates.make() }
        defer { certificates.remove() }
        try await TestServer.start {
            $0.tls = TLSSettings(
                certificateChainPath: certificates.serverCertificate, privateKeyPath: certificates.serverKey,
                clientCAPath: certificates.caCertificate)
        }.scoped { server in
            func client(certificate: String?, key: String?) -> UserRPCClient {
                var configuration = UserRPCClient.Configuration(host: "127.0.0.1", port: server.port)
                configuration.defaultTimeout = .seconds(10)
                configuration.tls = UserRPCClient.TLS(trustedCAPath: certificates.caCertificate, certificatePath: certificate, privateKeyPath: key)
                return UserRPCClient(configuration: configuration)
            }
            let member = client(certificate: certificates.clientCertificate, key: certificates.clientKey)
            _ = try await member.registerUser(username: "member", email: "member@example.com")

            let anonymous = client(certificate: nil, key: nil)
            await #expect(throws: UserRPCError.self) { try await anonymous.searchUsers() }
            let stranger = client(certificate: certificates.strangerCertificate, key: certificates.strangerKey)
            await #expect(throws: UserRPCError.self) { try await stranger.searchUsers() }

            #expect(try await member.searchUsers().users.map(\.username) == ["member"])
            for c in [member, anonymous, stranger] { await c.close() }
        }
    }
}
