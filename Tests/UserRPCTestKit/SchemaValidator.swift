import Foundation
import StrictJSON
import UserRPCWire

/// Checks JSON values against the subset of JSON Schema that `Schemas/user.v1.json` uses:
/// `type`, `properties`, `required`, `additionalProperties: false`, `items`, `$ref` to `#/messages/…`,
/// `minLength`, `maxLength`, `minimum`, `maximum`, `pattern`, and the formats `uuid` and `date-time`.
public struct SchemaValidator {
    public let schema: ServiceSchema

    public init(schema: ServiceSchema) { self.schema = schema }

    /// Every way `value` breaks message `name`'s schema, as `path: problem` lines; empty when it conforms.
    public func problems(_ value: JSONValue, message name: String) -> [String] {
        guard let messageSchema = schema.messages[name] else { return ["no message \(name)"] }
        var problems: [String] = []
        check(value, against: messageSchema, path: name, problems: &problems)
        return problems
    }

    private func check(_ value: JSONValue, against rule: JSONObject, path: String, problems: inout [String]) {
        if let reference = rule["$ref"]?.stringValue {
            let name = reference.replacingOccurrences(of: "#/messages/", with: "")
            guard let target = schema.messages[name] else {
                problems.append("\(path): unresolved \(reference)")
                return
            }
            check(value, against: target, path: path, problems: &problems)
            return
        }
        if let type = rule["type"]?.stringValue, !matches(value, type: type) {
            problems.append("\(path): expected \(type), got \(value.typeName)")
            return
        }
        switch value {
        case .object(let object):
            let properties = rule["properties"]?.objectValue ?? JSONObject()
            if case .array(let required)? = rule["required"] {
                for case .string(let field) in required where object[field] == nil {
                    problems.append("\(path).\(field): required")
                }
            }
            for member in object.members {
                if let property = properties[member.key]?.objectValue {
                    check(member.value, against: property, path: "\(path).\(member.key)", problems: &problems)
                } else if rule["additionalProperties"] == .bool(false) {
                    problems.append("\(path).\(member.key): not in the schema")
                }
            }
        case .array(let elements):
            if let items = rule["items"]?.objectValue {
                for (index, element) in elements.enumerated() {
                    check(element, against: items, path: "\(path)[\(index)]", problems: &problems)
                }
            }
        case .string(let string):
            if let min = rule["minLength"]?.intValue, string.count < min { problems.append("\(path): shorter than \(min)") }
            if let max = rule["maxLength"]?.intValue, string.count > max { problems.append("\(path): longer than \(max)") }
            if case .array(let allowed)? = rule["enum"], !allowed.contains(.string(string)) {
                problems.append("\(path): not one of the schema's values")
            }
            if let pattern = rule["pattern"]?.stringValue, string.range(of: pattern, options: .regularExpression) == nil {
                problems.append("\(path): does not match \(pattern)")
            }
            switch rule["format"]?.stringValue {
            case "uuid"?:
                if string.range(of: "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", options: .regularExpression) == nil {
                    problems.append("\(path): not a lower-case uuid")
                }
            case "date-time"?:
                if string.range(of: #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$"#, options: .regularExpression) == nil {
                    problems.append("\(path): not an RFC 3339 UTC date-time")
                }
            default:
                break
            }
        case .number:
            if let min = rule["minimum"]?.doubleValue, let v = value.doubleValue, v < min { problems.append("\(path): below \(min)") }
            if let max = rule["maximum"]?.doubleValue, let v = value.doubleValue, v > max { problems.append("\(path): above \(max)") }
        default:
            break
        }
    }

    private func matches(_ value: JSONValue, type: String) -> Bool {
        switch (type, value) {
        case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("null", .null), ("number", .number):
            return true
        case ("integer", .number):
            return value.intValue != nil
        default:
            return false
        }
    }
}
