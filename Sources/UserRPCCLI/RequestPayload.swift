import ArgumentParser
import Foundation
import StrictJSON
import UserRPCWire

/// Builds a request payload from the command line, for `call` and `bench`.
enum RequestPayload {
    /// The payload from `--json` (or `-` for standard input), or from `--field value` flags checked
    /// against the request message's fields in the schema.
    static func read(json: String?, fieldArguments: [String], fields: [ServiceSchema.Field]) throws -> JSONObject {
        if let json {
            guard fieldArguments.isEmpty else { throw ValidationError("use either --json or field flags, not both") }
            let text = json == "-" ? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self) : json
            let value: JSONValue
            do {
                value = try JSONParser().parse(text)
            } catch {
                throw ValidationError("--json is not valid JSON: \(error)")
            }
            guard case .object(let object) = value else { throw ValidationError("--json must be a JSON object") }
            return object
        }
        var payload = JSONObject()
        var remaining = fieldArguments[...]
        while let argument = remaining.popFirst() {
            guard argument.hasPrefix("--") else { throw ValidationError("unexpected argument '\(argument)'") }
            var name = String(argument.dropFirst(2))
            var value: String?
            if let equals = name.firstIndex(of: "=") {
                value = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            let fieldName = name.replacingOccurrences(of: "-", with: "_")
            guard let field = fields.first(where: { $0.name == fieldName }) else {
                let known = fields.map { "--" + $0.name.replacingOccurrences(of: "_", with: "-") }.joined(separator: ", ")
                throw ValidationError("unknown flag '--\(name)' for this method; its fields are: \(known)")
            }
            if value == nil { value = remaining.popFirst() }
            guard let value else { throw ValidationError("--\(name) needs a value") }
            guard payload[field.name] == nil else { throw ValidationError("--\(name) is given twice") }
            payload[field.name] = try Self.jsonValue(value, for: field)
        }
        return payload
    }

    static func jsonValue(_ text: String, for field: ServiceSchema.Field) throws -> JSONValue {
        switch field.type {
        case "string":
            return .string(text)
        case "integer":
            guard let int = Int(text) else { throw ValidationError("--\(field.name) must be an integer, not '\(text)'") }
            return .number(String(int))
        case "number":
            guard Double(text) != nil, let value = try? JSONParser().parse(text), case .number = value else {
                throw ValidationError("--\(field.name) must be a number, not '\(text)'")
            }
            return value
        case "boolean":
            guard let bool = Bool(text) else { throw ValidationError("--\(field.name) must be true or false") }
            return .bool(bool)
        default:
            // Arrays and objects are given as JSON text.
            do {
                return try JSONParser().parse(text)
            } catch {
                throw ValidationError("--\(field.name) must be JSON: \(error)")
            }
        }
    }
}
