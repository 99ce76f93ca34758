import Foundation

/// Writes the rows of the README's table of typed client methods for one schema: each method's
/// call, what it returns, and what it does (the schema's description).
struct MarkdownEmitter {
    let definition: ServiceDefinition
    let options: GeneratorOptions

    func emit() -> String {
        var rows = ""
        for method in definition.methods {
            let request = definition.message(named: method.request)
            let parameters =
                request.fields.map {
                    MessagesEmitter.parameter($0, type: MessagesEmitter.qualifiedType($0, in: method.request, namespace: options.namespace))
                } + ["options:"]
            var call = "`client.\(options.clientAccessor).\(method.swiftName)(\(parameters.joined(separator: ", ")))`"
            if options.clientTopLevel { call += " (also `client.\(method.swiftName)(…)`)" }
            let response = definition.message(named: method.response)
            let returns =
                method.isServerStreaming
                ? "a stream of `\(options.namespace).\(method.response)` (`for try await`)"
                : response.fields.isEmpty
                    ? "`\(options.namespace).\(method.response)` (empty, discardable)" : "`\(options.namespace).\(method.response)`"
            rows += "| \(call) | \(returns) | \(method.description.replacingOccurrences(of: "|", with: "\\|")) |\n"
        }
        return rows
    }
}
