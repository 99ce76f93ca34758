import UserCore
import UserRPCServer

extension UserRepository {
    /// The health probes of this repository's storage: the store is required (NOT_SERVING while
    /// it cannot answer), the cache optional (SERVING, with a detail, while it is down). Each runs
    /// where that adapter's calls run (inline, or on its threads), and is interrupted when the
    /// health call ends.
    public func healthProbes(storeName: String, cacheName: String = "cache") -> [HealthProbe] {
        let store = self.store
        var probes = [
            HealthProbe(name: storeName, isRequired: true) {
                await Self.run(on: store.execution) { cancellation in
                    do throws(UserError) {
                        try store.checkAvailable(cancellation: cancellation)
                        return nil
                    } catch {
                        switch error {
                        case .unavailable(let message), .storageFull(let message), .internalError(let message): return message
                        case .deadlineExceeded, .cancelled: return "no answer before the health check's deadline"
                        default: return "\(error)"
                        }
                    }
                }
            }
        ]
        if let cache {
            probes.append(
                HealthProbe(name: cacheName, isRequired: false) {
                    await Self.run(on: cache.execution) { _ in cache.unavailability() }
                })
        }
        return probes
    }

    /// Runs `body` inline or on the executor's threads; the task's cancellation cancels its `CallCancellation`.
    private static func run(
        on execution: StorageExecution, _ body: @escaping @Sendable (CallCancellation) -> String?
    ) async -> String? {
        let cancellation = CallCancellation()
        guard let executor = execution.executor else { return body(cancellation) }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                executor.execute { isActive in
                    continuation.resume(returning: isActive ? body(cancellation) : "the storage threads have shut down")
                }
            }
        } onCancel: {
            cancellation.cancel()
        }
    }
}
