import Testing
import UserCore

@Suite("Call cancellation")
struct CallCancellationTests {
    final class Counter: @unchecked Sendable {
        var value = 0  // touched only under CallCancellation's lock, from one thread in this test
    }

    @Test("steps run until the call is cancelled; a running step is interrupted; none starts after")
    func states() {
        let cancellation = CallCancellation()
        let interrupted = Counter()
        #expect(cancellation.begin { interrupted.value += 1 })
        cancellation.end()
        #expect(cancellation.begin { interrupted.value += 1 }, "a later step (a retry) may run")
        cancellation.cancel()
        #expect(interrupted.value == 1, "the running step was interrupted")
        cancellation.end()
        #expect(!cancellation.begin { interrupted.value += 1 })
        #expect(cancellation.isCancelled)

        let afterStep = CallCancellation()
        #expect(afterStep.begin {})
        afterStep.end()
        afterStep.cancel()
        #expect(!afterStep.begin {}, "cancelled between steps: nothing more starts")
    }
}
