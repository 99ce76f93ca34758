import NowOrLater

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The user domain's operations, each answered at once or later, by the one execution policy.
///
/// The logic of each operation is written once (``UserRegistrationLogic``, ``UserQueryLogic``,
/// ``UserChangeLogic``);
/// where it runs follows from the repository's ``UserRepository/execution``:
/// - `.inline` (the embedded store): at once, on the calling thread, as a batch of one;
/// - `.threads`: RegisterUser and GetUser calls are gathered into batches on the storage threads
///   (``StorageCallBatcher``); a search, an update or a delete runs alone on one of them.
/// Every API version's service calls these, so every version sees the same users.
public final class UserOperations: Sendable {
    public let repository: UserRepository
    public let registration: UserRegistrationLogic
    public let query: UserQueryLogic
    public let changes: UserChangeLogic
    private let getUserBatcher: StorageCallBatcher<UUID, User>?
    private let registerBatcher: StorageCallBatcher<User, User>?

    /// - Parameters:
    ///   - now: the clock for registration times; tests may pin it.
    ///   - pageTokenKey: the key page tokens are signed with; by default the store's
    ///     (``UserStore/pageTokenKey()``, shared by every server of the store), or a random one
    ///     when the store cannot give it (its tokens are then valid on this process only).
    public init(repository: UserRepository, now: @escaping @Sendable () -> Date = { Date() }, pageTokenKey: [UInt8]? = nil) {
        self.repository = repository
        let registration = UserRegistrationLogic(repository: repository, now: now)
        let key = pageTokenKey ?? (try? repository.store.pageTokenKey()) ?? PageTokens.randomKey()
        let query = UserQueryLogic(repository: repository, pageTokens: PageTokens(key: key))
        self.registration = registration
        self.query = query
        self.changes = UserChangeLogic(repository: repository, now: now)
        // Batches run on up to half the storage threads (a search always finds a thread), and no
        // more at once than there are cores: fewer, larger batches save more round trips.
        func batches(_ executor: any BlockingExecutor) -> Int {
            max(1, min(executor.threadCount / 2, ProcessInfo.processInfo.activeProcessorCount))
        }
        if let executor = repository.execution.executor {
            // GetUser answers as soon as the store has been read; the cache is filled after.
            getUserBatcher = StorageCallBatcher(executor: executor, maxConcurrentBatches: batches(executor)) { ids, cancellation in
                var results = [Result<User, UserError>](repeating: .failure(.cancelled), count: ids.count)
                let fill = query.users(ids, cancellation: cancellation) { index, result in results[index] = result }
                return (results, fill)
            }
        } else {
            getUserBatcher = nil
        }
        if let executor = repository.writeExecution.executor {
            // Registration primes the cache before answering: the two form one unit. (A store that
            // commits to disk commits a batch in one transaction: one sync for all.)
            registerBatcher = StorageCallBatcher(executor: executor, maxConcurrentBatches: batches(executor)) { users, cancellation in
                (registration.register(users, cancellation: cancellation), nil)
            }
        } else {
            registerBatcher = nil
        }
    }

    /// Registers a user: validated at once, then stored. With an `idempotencyKey`, a repeat of the
    /// same registration answers the user the first one registered (see ``UserRegistrationLogic``).
    public func register(username: String, email: String, idempotencyKey: String? = nil) -> Answer<User, UserError> {
        let user: User
        do throws(UserError) {
            user = try registration.makeUser(username: username, email: email, idempotencyKey: idempotencyKey)
        } catch {
            return .failure(error)
        }
        if let registerBatcher {
            return registerBatcher.answer(user)
        }
        return .now(registration.register([user], cancellation: nil)[0])
    }

    /// The user with this id, or NOT_FOUND.
    public func user(id: UUID) -> Answer<User, UserError> {
        if let getUserBatcher {
            return getUserBatcher.answer(id)
        }
        var result: Result<User, UserError> = .failure(.cancelled)
        let fill = query.users(CollectionOfOne(id), cancellation: nil) { _, answer in result = answer }
        fill?()
        return .now(result)
    }

    /// Changes a user's username and/or email (only if its version is `expectedVersion`, when given):
    /// validated at once, then applied.
    public func update(id: UUID, username: String?, email: String?, expectedVersion: UInt64?) -> Answer<User, UserError> {
        let change: UserChange
        do throws(UserError) {
            change = try changes.makeChange(id: id, username: username, email: email, expectedVersion: expectedVersion)
        } catch {
            return .failure(error)
        }
        let changes = self.changes
        return run(on: repository.writeExecution) { cancellation in
            Result { () throws(UserError) in try changes.update(change, cancellation: cancellation) }
        }
    }

    /// Deletes a user (only if its version is `expectedVersion`, when given); answers the user as it was.
    public func delete(id: UUID, expectedVersion: UInt64?) -> Answer<User, UserError> {
        let changes = self.changes
        let deletion = UserDeletion(id: id, expectedVersion: expectedVersion)
        return run(on: repository.writeExecution) { cancellation in
            Result { () throws(UserError) in try changes.delete(deletion, cancellation: cancellation) }
        }
    }

    /// Runs one call's work by the execution policy: at once when nothing blocks, otherwise alone on
    /// one of the storage threads.
    private func run<Value: Sendable>(
        on execution: StorageExecution, _ work: @escaping @Sendable (CallCancellation?) -> Result<Value, UserError>
    ) -> Answer<Value, UserError> {
        guard let executor = execution.executor else { return .now(work(nil)) }
        return executor.answer { cancellation in work(cancellation) }
    }

    /// One page of users matching the filters: validated at once, then searched.
    public func search(username: String?, email: String?, limit: Int?, pageToken: String?) -> Answer<UserPage, UserError> {
        let searchQuery: UserSearchQuery
        do throws(UserError) {
            searchQuery = try UserValidation.searchQuery(
                username: username, email: email, limit: limit, pageToken: pageToken, pageTokens: query.pageTokens)
        } catch {
            return .failure(error)
        }
        let query = self.query
        return run(on: repository.execution) { cancellation in
            Result { () throws(UserError) in try query.search(searchQuery, cancellation: cancellation) }
        }
    }
}
