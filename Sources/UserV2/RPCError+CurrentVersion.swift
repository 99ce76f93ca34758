import UserRPCWire

extension RPCError {
    /// The user's current version, for ABORTED (`details.current_version`): a test-and-set
    /// (`expected_version`) lost a race; re-read the user and try again.
    public var currentVersion: UInt64? { details?["current_version"]?.uint64Value }
}
