import StrictJSON
import UserCore
import UserRPCWire
import UserV1

/// Serves `user.v1.UserService`: decodes each payload into its message, runs the logic, encodes the reply.
///
/// When the repository never blocks (the embedded store), calls are answered at once on the event loop;
/// otherwise each call becomes async work that runs in one task.
public struct UserServiceV1Handler: Sendable {
    public let registration: UserRegistrationLogic
    public let query: UserQueryLogic
    private let runsInline: Bool
    /// The repository's synchronous view when calls run on the event loop, for the hot path.
    let inlineRepository: NonBlockingUserRepository?
    private let blockingExecutor: (any BlockingExecutor)?

    public init(repository: UserRepository) {
        registration = UserRegistrationLogic(repository: repository)
        query = UserQueryLogic(repository: repository)
        inlineRepository = repository.nonBlocking
        runsInline = inlineRepository != nil
        blockingExecutor = query.blockingRepository?.executor
    }

    /// The full method names this handler serves.
    public static var methodNames: [String] { UserServiceV1.Method.allCases.map(\.fullName) }

    /// Starts serving one call; `nil` when the method is not one of this service's.
    public func handle(method fullName: String, payload: JSONObject) -> CallOutcome? {
        guard let method = UserServiceV1.Method(fullName: fullName) else { return nil }
        switch method {
        case .registerUser:
            return serve(
                payload, as: RegisterUserRequest.self, inline: registration.registerWithoutBlocking,
                blocking: { [registration] in registration.registerBlocking($0, cancellation: $1) },
                deferred: { [registration] (request) async throws(UserError) in try await registration.register(request) })
        case .getUser:
            return serve(
                payload, as: GetUserRequest.self, inline: query.getUserWithoutBlocking,
                blocking: { [query] in query.getUserBlocking($0, cancellation: $1) },
                deferred: { [query] (request) async throws(UserError) in try await query.getUser(request) })
        case .searchUsers:
            return serve(
                payload, as: SearchUsersRequest.self, inline: query.searchUsersWithoutBlocking,
                blocking: { [query] in query.searchUsersBlocking($0, cancellation: $1) },
                deferred: { [query] (request) async throws(UserError) in try await query.searchUsers(request) })
        }
    }

    private func serve<Request: UserV1Message, Response: UserV1Message>(
        _ payload: JSONObject,
        as: Request.Type,
        inline: (Request) -> Result<Response, UserError>?,
        blocking: @escaping @Sendable (Request, CallCancellation) -> Result<Response, UserError>?,
        deferred: @escaping @Sendable (Request) async throws(UserError) -> Response
    ) -> CallOutcome {
        let request: Request
        do {
            request = try Request(json: payload)
        } catch {
            return .immediate(.failed(error.rpcStatus))
        }
        if runsInline, let result = inline(request) {
            return .immediate(Self.callResult(result))
        }
        if let blockingExecutor {
            return .offloaded(blockingExecutor) { cancellation in
                guard let result = blocking(request, cancellation) else {
                    return .failed(UserError.internalError("no blocking path").rpcStatus)
                }
                return Self.callResult(result)
            }
        }
        return .deferred {
            do throws(UserError) {
                return Self.callResult(.success(try await deferred(request)))
            } catch {
                return Self.callResult(Result<Response, UserError>.failure(error))
            }
        }
    }

    private static func callResult<Response: UserV1Message>(_ result: Result<Response, UserError>) -> CallResult {
        switch result {
        case .success(let response): .ok(response.jsonBytes)
        case .failure(let error): .failed(error.rpcStatus)
        }
    }
}
