import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension UserRPCClient.Endpoint {
    /// The endpoints of every address `name` resolves to (DNS, `/etc/hosts`), in the resolver's
    /// order without repeats: for a fleet behind one name. Resolved once, now: a client made with
    /// them does not follow later changes of the name (make a new one). With TLS, set
    /// ``UserRPCClient/TLS/serverHostname`` to `name`, since the endpoints are addresses.
    ///
    /// ```swift
    /// var configuration = UserRPCClient.Configuration()
    /// configuration.endpoints = try await UserRPCClient.Endpoint.resolve("users.internal", port: 50051)
    /// ```
    /// - Throws: ``UserRPCError`` `UNAVAILABLE` when the name does not resolve.
    public static func resolve(_ name: String, port: Int) async throws(UserRPCError) -> [UserRPCClient.Endpoint] {
        let result: Result<[String], UserRPCError>
        do {
            result = try await NIOThreadPool.singleton.runIfActive { Self.addresses(of: name) }
        } catch {
            result = .failure(UserRPCError(code: .unavailable, message: "cannot resolve \(name): the resolver's threads have shut down"))
        }
        return try result.get().map { UserRPCClient.Endpoint(host: $0, port: port) }
    }

    /// The numeric text of an IPv4 or IPv6 address from getaddrinfo.
    private static func numeric(_ info: addrinfo) -> String? {
        guard let socketAddress = info.ai_addr else { return nil }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        switch info.ai_family {
        case AF_INET:
            var address = socketAddress.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
            guard inet_ntop(AF_INET, &address, &text, socklen_t(text.count)) != nil else { return nil }
        case AF_INET6:
            var address = socketAddress.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
            guard inet_ntop(AF_INET6, &address, &text, socklen_t(text.count)) != nil else { return nil }
        default:
            return nil
        }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// getaddrinfo (blocking): the numeric addresses of `name`, in order, without repeats.
    private static func addresses(of name: String) -> Result<[String], UserRPCError> {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
            hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(name, nil, &hints, &list)
        guard status == 0, let first = list else {
            let reason = status == 0 ? "no address" : String(cString: gai_strerror(status))
            return .failure(UserRPCError(code: .unavailable, message: "cannot resolve \(name): \(reason)"))
        }
        defer { freeaddrinfo(first) }
        var addresses: [String] = []
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let current = entry {
            if let address = Self.numeric(current.pointee), !addresses.contains(address) { addresses.append(address) }
            entry = current.pointee.ai_next
        }
        return addresses.isEmpty ? .failure(UserRPCError(code: .unavailable, message: "cannot resolve \(name): no address")) : .success(addresses)
    }
}
