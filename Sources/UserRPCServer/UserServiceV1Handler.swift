import NIOCore
import StrictJSON
import UserCore
import UserRPCWire
import UserV1

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Serves `user.v1.UserService`: decodes each payload into its message, runs the logic, encodes the reply.
///
/// When the repository never blocks (the embedded store), calls are answered at once on the event loop.
/// When it blocks (PostgreSQL, Redis), GetUser and RegisterUser calls are served in batches on the
/// store's threads and searches one by one there; other async adapters run each call in a task.
public struct UserServiceV1Handler: Sendable {
    public let registration: UserRegistrationLogic
    public let query: UserQueryLogic
    /// The repository's synchronous view when calls run on the event loop, for the hot path.
    let inlineRepository: NonBlockingUserRepository?
    private let blockingExecutor: (any BlockingExecutor)?
    /// With a blocking repository, GetUser and RegisterUser calls run in batches.
    private let getUserBatcher: StorageCallBatcher<(id: UUID, text: String)>?
    private let registerBatcher: StorageCallBatcher<UserCore.User>?

    public init(repository: UserRepository) {
        registration = UserRegistrationLogic(repository: repository)
        query = UserQueryLogic(repository: repository)
        inlineRepository = repository.nonBlocking
        blockingExecutor = query.blockingRepository?.executor
        if let blockingExecutor, inlineRepository == nil {
            // Batches run on up to half the storage threads (searches always find a thread), and no
            // more at once than there are cores: fewer, larger batches save more round trips.
            let batches = max(1, min(blockingExecutor.threadCount / 2, System.coreCount))
            // GetUser answers as soon as the store has been read; the cache is filled after.
            getUserBatcher = StorageCallBatcher(executor: blockingExecutor, maxConcurrentBatches: batches) { [query] ids, cancellation in
                let (users, fillCache) = query.getUsersBlocking(ids, cancellation: cancellation)
                return (users.map(Self.callResult), fillCache)
            }
            // Registration primes the cache before answering: the two form one unit.
            registerBatcher = StorageCallBatcher(executor: blockingExecutor, maxConcurrentBatches: batches) { [registration] users, cancellation in
                (registration.registerBlocking(users, cancellation: cancellation).map(Self.callResult), {})
            }
        } else {
            getUserBatcher = nil
            registerBatcher = nil
        }
    }

    static let getUserMethodName = UserServiceV1.Method.getUser.fullName

    /// A scanned GetUser call (the common shape: `{"id": "<uuid>"}`) queued in the GetUser batcher;
    /// `nil` when there is no batcher or the call is in another shape (the general path decides it).
    func batchedGetUser(_ request: ScannedRequest, frame bytes: UnsafeRawBufferPointer) -> CallOutcome? {
        guard let getUserBatcher, let scanned = Self.scannedGetUserID(request, frame: bytes) else { return nil }
        let item = (id: scanned.id, text: String(decoding: UnsafeRawBufferPointer(rebasing: bytes[scanned.text]), as: UTF8.self))
        return .blocking { cancellation, complete in getUserBatcher.submit(item, cancellation: cancellation, complete: complete) }
    }

    /// The full method names this handler serves.
    public static var methodNames: [String] { UserServiceV1.Method.allCases.map(\.fullName) }

    /// Starts serving one call; `nil` when the method is not one of this service's.
    public func handle(method fullName: String, payload: JSONObject) -> CallOutcome? {
        guard let method = UserServiceV1.Method(fullName: fullName) else { return nil }
        switch method {
        case .registerUser:
            if let registerBatcher {
                return batched(payload, as: RegisterUserRequest.self, batcher: registerBatcher) { [registration] request throws(UserError) in
                    try registration.makeUser(request)
                }
            }
            return serve(
                payload, as: RegisterUserRequest.self, inline: registration.registerWithoutBlocking,
                deferred: { [registration] (request) async throws(UserError) in try await registration.register(request) })
        case .getUser:
            if let getUserBatcher {
                return batched(payload, as: GetUserRequest.self, batcher: getUserBatcher) { request throws(UserError) in
                    (try UserValidation.userID(request.id), request.id)
                }
            }
            return serve(
                payload, as: GetUserRequest.self, inline: query.getUserWithoutBlocking,
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
        blocking: (@Sendable (Request, CallCancellation) -> Result<Response, UserError>?)? = nil,
        deferred: @escaping @Sendable (Request) async throws(UserError) -> Response
    ) -> CallOutcome {
        let request: Request
        do {
            request = try Request(json: payload)
        } catch {
            return .immediate(.failed(error.rpcStatus))
        }
        if inlineRepository != nil, let result = inline(request) {
            return .immediate(Self.callResult(result))
        }
        // Only searches get here with a blocking store: GetUser and RegisterUser go to their batchers.
        if let blockingExecutor, let blocking {
            return .offloaded(to: blockingExecutor) { cancellation in
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

    /// Decodes and validates the request at once (answering errors immediately), then queues the call
    /// in its batcher.
    private func batched<Request: UserV1Message, Item: Sendable>(
        _ payload: JSONObject, as: Request.Type, batcher: StorageCallBatcher<Item>, item: (Request) throws(UserError) -> Item
    ) -> CallOutcome {
        let batchItem: Item
        do throws(UserError) {
            let request: Request
            do {
                request = try Request(json: payload)
            } catch {
                return .immediate(.failed(error.rpcStatus))
            }
            batchItem = try item(request)
        } catch {
            return .immediate(.failed(error.rpcStatus))
        }
        return .blocking { cancellation, complete in batcher.submit(batchItem, cancellation: cancellation, complete: complete) }
    }

    private static func callResult<Response: UserV1Message>(_ result: Result<Response, UserError>) -> CallResult {
        switch result {
        case .success(let response): .ok(response.jsonBytes)
        case .failure(let error): .failed(error.rpcStatus)
        }
    }

    /// A user entity is written straight into the response frame.
    private static func callResult(_ result: Result<UserCore.User, UserError>) -> CallResult {
        switch result {
        case .success(let user): .ok(user)
        case .failure(let error): .failed(error.rpcStatus)
        }
    }
}
