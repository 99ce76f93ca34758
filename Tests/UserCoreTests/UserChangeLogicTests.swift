import Foundation
import NIOConcurrencyHelpers
import Testing
import UserCore

/// The version and update rules, decided once by ``UserChangeLogic`` over any store's compare-and-set.
@Suite("Changes: the rules over a compare-and-set store")
struct UserChangeLogicTests {
    /// An in-memory store where another writer changes the user between the logic's read and its
    /// write, `races` times: the compare-and-set then sees another version.
    final class RacedStore: UserStore {
        let inner = InMemoryUserStore()
        let races = NIOLockedValueBox(0)
        let writes = NIOLockedValueBox(0)
        var execution: StorageExecution { .inline }

        func insert(_ users: [User], cancellation: CallCancellation?) -> [Result<Void, UserError>] { inner.insert(users, cancellation: cancellation) }
        func users(ids: some Collection<UUID>, cancellation: CallCancellation?, found: (User) -> Void) throws(UserError) {
            try inner.users(ids: ids, cancellation: cancellation, found: found)
        }
        func search(_ query: UserSearchQuery, cancellation: CallCancellation?) throws(UserError) -> [User] {
            try inner.search(query, cancellation: cancellation)
        }
        func pageTokenKey() throws(UserError) -> [UInt8] { [UInt8](repeating: 1, count: 32) }

        func replace(_ current: User, with changed: User, cancellation: CallCancellation?) throws(UserError) -> User {
            try raceIfAsked(current)
            writes.withLockedValue { $0 += 1 }
            return try inner.replace(current, with: changed)
        }

        func delete(_ user: User, cancellation: CallCancellation?) throws(UserError) {
            try raceIfAsked(user)
            try inner.delete(user)
        }

        /// Another writer's change (a new email), committed just before this write.
        private func raceIfAsked(_ user: User) throws(UserError) {
            let race = races.withLockedValue { count in
                defer { count = max(0, count - 1) }
                return count > 0
            }
            guard race, let stored = inner.user(id: user.id, cancellation: nil) else { return }
            let other = UserChange(id: user.id, username: nil, email: "other\(stored.version)@example.com", expectedVersion: nil, at: Date())
            _ = try inner.replace(stored, with: other.applied(to: stored))
        }
    }

    let store = RacedStore()
    var logic: UserChangeLogic { UserChangeLogic(repository: UserRepository(store: store)) }

    func registered() throws -> User {
        let user = User(id: UUID(), username: "ada", email: "ada@example.com", createdAt: Date(timeIntervalSince1970: 1_700_000_000))
        try store.inner.insert([user], cancellation: nil)[0].get()
        return user
    }

    @Test("without expected_version, a change that lost a race is applied to the winner's result (last writer wins)")
    func lostRaceIsRetried() throws {
        let ada = try registered()
        store.races.withLockedValue { $0 = 2 }
        let change = try logic.makeChange(id: ada.id, username: "Countess", email: nil, expectedVersion: nil)
        let changed = try logic.update(change, cancellation: nil)
        // Two other writes won (versions 2 and 3); ours is version 4, on top of the second one's email.
        #expect(changed.version == 4 && changed.username == "Countess" && changed.email == "other2@example.com")
        // Three attempts to write: two lost their race, the third committed.
        #expect(store.writes.withLockedValue { $0 } == 3)
        #expect(store.inner.user(id: ada.id, cancellation: nil) == changed)
    }

    @Test("with expected_version, a change that lost a race is ABORTED with the current version, and writes nothing")
    func lostTestAndSetIsAborted() throws {
        let ada = try registered()
        store.races.withLockedValue { $0 = 1 }
        let change = try logic.makeChange(id: ada.id, username: "Countess", email: nil, expectedVersion: 1)
        #expect(throws: UserError.versionMismatch(id: ada.id, current: 2)) { try logic.update(change, cancellation: nil) }
        #expect(store.inner.user(id: ada.id, cancellation: nil)?.username == "ada")
    }

    @Test("a change that changes nothing is not written; an unknown id is NOT_FOUND; a stale expected_version is ABORTED before any write")
    func rulesBeforeTheWrite() throws {
        let ada = try registered()
        let same = try logic.makeChange(id: ada.id, username: "ada", email: nil, expectedVersion: nil)
        #expect(try logic.update(same, cancellation: nil) == ada)
        let missing = UUID()
        #expect(throws: UserError.notFound(id: missing)) {
            try logic.update(try logic.makeChange(id: missing, username: "x12", email: nil, expectedVersion: nil), cancellation: nil)
        }
        #expect(throws: UserError.versionMismatch(id: ada.id, current: 1)) {
            try logic.update(try logic.makeChange(id: ada.id, username: "x12", email: nil, expectedVersion: 7), cancellation: nil)
        }
        #expect(store.writes.withLockedValue { $0 } == 0)
    }

    @Test("a deletion without expected_version deletes what a concurrent change wrote; with one, it is ABORTED")
    func deletionRaces() throws {
        let ada = try registered()
        store.races.withLockedValue { $0 = 1 }
        #expect(throws: UserError.versionMismatch(id: ada.id, current: 2)) {
            try logic.delete(UserDeletion(id: ada.id, expectedVersion: 1), cancellation: nil)
        }
        store.races.withLockedValue { $0 = 1 }
        let deleted = try logic.delete(UserDeletion(id: ada.id, expectedVersion: nil), cancellation: nil)
        #expect(deleted.version == 3)
        #expect(store.inner.user(id: ada.id, cancellation: nil) == nil)
    }
}

extension UserChangeLogicTests {
    @Test("a user deleted and registered again under its id (at version 1 again) is not written over from an old read")
    func reRegistrationIsNotTheSameUser() throws {
        let ada = try registered()
        try store.inner.delete(ada)
        let again = User(
            id: ada.id, username: "ada-again", email: "again@example.com", createdAt: Date(timeIntervalSince1970: 1_700_000_500))
        try store.inner.insert([again], cancellation: nil)[0].get()
        // A change read from the first registration (same id, same version) is refused by the store.
        let stale = UserChange(id: ada.id, username: "Countess", email: nil, expectedVersion: nil, at: Date()).applied(to: ada)
        #expect(throws: UserError.versionMismatch(id: ada.id, current: 1)) { try store.inner.replace(ada, with: stale) }
        #expect(throws: UserError.versionMismatch(id: ada.id, current: 1)) { try store.inner.delete(ada) }
        // Through the logic, a change applies to the user there now.
        let changed = try logic.update(try logic.makeChange(id: ada.id, username: "Countess", email: nil, expectedVersion: nil), cancellation: nil)
        #expect(changed.email == "again@example.com" && changed.username == "Countess" && changed.version == 2)
    }
}
