/// The methods of `user.v1.UserService`, with their request and response message types.
public enum UserServiceV1 {
    /// The service's full name, as it prefixes method names on the wire.
    public static let serviceName = "user.v1.UserService"

    /// One RPC method of the service.
    public enum Method: String, Sendable, CaseIterable, Hashable {
        case registerUser = "RegisterUser"
        case getUser = "GetUser"
        case searchUsers = "SearchUsers"

        /// The name used on the wire: `user.v1.UserService/GetUser`.
        public var fullName: String {
            switch self {
            case .registerUser: "user.v1.UserService/RegisterUser"
            case .getUser: "user.v1.UserService/GetUser"
            case .searchUsers: "user.v1.UserService/SearchUsers"
            }
        }

        /// The method for a full wire name, or `nil`.
        public init?(fullName: String) {
            guard let method = Self.byFullName[fullName] else { return nil }
            self = method
        }

        private static let byFullName: [String: Method] = Dictionary(uniqueKeysWithValues: allCases.map { ($0.fullName, $0) })

        public var requestType: any UserV1Message.Type {
            switch self {
            case .registerUser: RegisterUserRequest.self
            case .getUser: GetUserRequest.self
            case .searchUsers: SearchUsersRequest.self
            }
        }

        public var responseType: any UserV1Message.Type {
            switch self {
            case .registerUser, .getUser: User.self
            case .searchUsers: SearchUsersResponse.self
            }
        }
    }
}
