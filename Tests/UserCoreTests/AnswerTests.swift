import Foundation
import NIOConcurrencyHelpers
import NowOrLater
import Testing
import UserCore

@Suite("Answer: one type for now or later, mapped from the domain to the wire")
struct AnswerTests {
    struct WireError: Error, Equatable { let reason: String }

    @Test("an answer given now maps its value and its failure at once")
    func nowMaps() {
        let ok: Answer<Int, UserError> = .success(20)
        let mapped = ok.map { "\($0 + 1)" }.mapError { WireError(reason: "\($0)") }
        guard case .now(.success(let value)) = mapped else {
            Issue.record("not answered now")
            return
        }
        #expect(value == "21")
        let id = UUID()
        let failed: Answer<Int, UserError> = .failure(.notFound(id: id))
        let mappedFailure = failed.map { $0 + 1 }.mapError { WireError(reason: "\($0)") }
        guard case .now(.failure(let error)) = mappedFailure else {
            Issue.record("not answered now")
            return
        }
        #expect(error == WireError(reason: "\(UserError.notFound(id: id))"))
    }

    @Test("an answer given later stays later: the mapped value arrives with the work's, and stopping the mapped answer stops the work")
    func laterMapsAndStops() {
        let completion = NIOLockedValueBox<(@Sendable (Result<Int, UserError>) -> Void)?>(nil)
        let stopped = NIOLockedValueBox(0)
        let answer: Answer<Int, UserError> = .later(
            .init { complete in
                completion.withLockedValue { $0 = complete }
                return { stopped.withLockedValue { $0 += 1 } }
            })
        let mapped = answer.map { $0 * 2 }.mapError { WireError(reason: "\($0)") }
        guard case .later(let pending) = mapped else {
            Issue.record("a later answer was mapped to one given now")
            return
        }
        let received = NIOLockedValueBox<[Result<Int, WireError>]>([])
        let stop = pending.start { result in received.withLockedValue { $0.append(result) } }
        #expect(received.withLockedValue { $0 }.isEmpty)
        completion.withLockedValue { $0 }?(.success(21))
        #expect(received.withLockedValue { $0 } == [.success(42)])
        stop()
        #expect(stopped.withLockedValue { $0 } == 1)
    }
}
