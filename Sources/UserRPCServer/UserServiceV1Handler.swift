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
/// When the repository never blocks (the embedded store), calls are answered at once on the event loop;
/// otherwise each call becomes async work that runs in one task.
public struct UserServiceV1Handler: Sendable {
    public let registration: UserRegistrationLogic
    public let query: UserQueryLogic
    private let runsInline: Bool
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
        runsInline = inlineRepository != nil
        blockingExecutor = query.blockingRepository?.executor
        if let blocking = query.blockingRepository, inlineRepository == nil {
            // Batches run on up to half the storage threads (searches always find a thread), and no
            // more at once than there are cores: fewer, larger batches save more round trips.
            let batches = max(1, min(blocking.executor.threadCount / 2, System.coreCount))
            getUserBatcher = StorageCallBatcher(executor: blocking.executor, maxConcurrentBatches: batches) { items, cancellation in
                Self.getUsers(items, repository: blocking, cancellation: cancellation)
            }
            // Registration primes the cache before answering: the two form one unit.
            registerBatcher = StorageCallBatcher(executor: blocking.executor, maxConcurrentBatches: batches) { users, cancellation in
                let results = zip(users, blocking.add(users, cancellation: cancellation)).map { user, result -> CallResult in
                    switch result {
                    case .success: .ok(user)
                    case .failure(let error): .failed(error.rpcStatus)
                    }
                }
                return (results, {})
            }
        } else {
            getUserBatcher = nil
            registerBatcher = nil
        }
    }

    /// A batch of GetUser calls: answered as soon as the store has been read; the cache is filled after.
    private static func getUsers(
        _ items: [(id: UUID, text: String)], repository: BlockingUserRepository, cancellation: CallCancellation
    ) -> (results: [CallResult], afterAnswering: () -> Void) {
        do throws(UserError) {
            let (found, fillCache) = try repository.usersFillingCacheLater(ids: items.map(\.id), cancellation: cancellation)
            let results = items.map { item -> CallResult in
                found[item.id].map { CallResult.ok($0) } ?? .failed(UserError.notFound(id: item.text).rpcStatus)
            }
            return (results, fillCache)
        } catch {
            return (items.map { _ in .failed(error.rpcStatus) }, {})
        }
    }

    static let getUserMethodName = UserServiceV1.Method.getUser.fullName

    /// A scanned GetUser call (the common shape: `{"id": "<uuid>"}`) queued in the GetUser batcher;
    /// `nil` when there is no batcher or the call is in another shape (the general path decides it).
    func batchedGetUser(_ request: ScannedRequest, frame bytes: UnsafeRawBufferPointer) -> CallOutcome? {
        guard let getUserBatcher, request.payload.count == 1, bytes.bytes(in: request.method, equal: "user.v1.UserService/GetUser")
        else { return nil }
        let member = request.payload[0]
        let value = UnsafeRawBufferPointer(rebasing: bytes[member.value])
        guard member.isString, bytes.bytes(in: member.key, equal: "id"), let id = UUID(strictTextUTF8: value) else { return nil }
        let item = (id: id, text: String(decoding: value, as: UTF8.self))
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
                blocking: { [registration] in registration.registerBlocking($0, cancellation: $1) },
                deferred: { [registration] (request) async throws(UserError) in try await registration.register(request) })
        case .getUser:
            if let getUserBatcher {
                return batched(payload, as: GetUserRequest.self, batcher: getUserBatcher) { request throws(UserError) in
                    (try UserValidation.userID(request.id), request.id)
                }
            }
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
}
