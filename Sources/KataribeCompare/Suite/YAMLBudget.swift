import CYaml

/// Checks a YAML text's shape from libyaml's event stream before Yams builds nodes from it.
///
/// Yams composes recursively (one stack frame per nesting level) and hashes every mapping key to
/// find duplicates, so a file with 100,000 nested brackets overflows the stack, and an "alias
/// bomb" (each anchor repeating the previous one nine times) used as a mapping key makes hashing
/// take 9^n steps. libyaml's parser itself is iterative, so walking its events first costs
/// little and bounds all of that, as serde_yaml bounds alias expansion: nesting depth, the size
/// of the document with every alias expanded, and mapping keys that are not plain scalars.
enum YAMLBudget {
    /// A suite nests five or six levels; 64 leaves room for any hand-written file.
    static let maximumDepth = 64
    /// Nodes in the document with every alias expanded (a large suite has a few thousand).
    static let maximumExpandedNodes = 200_000

    struct Violation: Error {
        let problem: String
        let line: Int
        let column: Int
    }

    /// Throws the first violation; YAML syntax errors are left to Yams, which reports them better.
    static func check(_ yaml: String) throws(Violation) {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return }
        defer { yaml_parser_delete(&parser) }
        var bytes = Array(yaml.utf8)
        try bytes.withUnsafeMutableBufferPointer { (buffer) throws(Violation) in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            try walk(&parser)
        }
    }

    private struct Frame {
        let isMapping: Bool
        let anchor: String?
        var size = 1  // this node plus its expanded children
        var expectingKey = true
    }

    private enum Kind { case scalar, collection }

    private static func walk(_ parser: inout yaml_parser_t) throws(Violation) {
        var frames: [Frame] = []
        var anchors: [String: (size: Int, kind: Kind)] = [:]
        var expanded = 0

        /// Adds a finished node to its parent, checking that a mapping key is a plain scalar.
        func place(size: Int, kind: Kind, line: Int, column: Int) throws(Violation) {
            expanded += size
            guard expanded <= maximumExpandedNodes else {
                throw Violation(problem: "aliases expand the document to more than \(maximumExpandedNodes) nodes",
                                line: line, column: column)
            }
            guard let last = frames.indices.last else { return }
            if frames[last].isMapping {
                if frames[last].expectingKey, kind != .scalar {
                    throw Violation(problem: "a mapping key must be a plain value, not a list, a mapping or an alias of one",
                                    line: line, column: column)
                }
                frames[last].expectingKey.toggle()
            }
            frames[last].size += size
        }

        while true {
            var event = yaml_event_t()
            guard yaml_parser_parse(&parser, &event) == 1 else { return }  // Yams reports the syntax error
            defer { yaml_event_delete(&event) }
            let line = Int(event.start_mark.line) + 1, column = Int(event.start_mark.column) + 1
            switch event.type {
            case YAML_STREAM_END_EVENT:
                return
            case YAML_SCALAR_EVENT:
                if let anchor = string(event.data.scalar.anchor) { anchors[anchor] = (1, .scalar) }
                try place(size: 1, kind: .scalar, line: line, column: column)
            case YAML_ALIAS_EVENT:
                let target = string(event.data.alias.anchor).flatMap { anchors[$0] } ?? (1, .scalar)
                try place(size: target.size, kind: target.kind, line: line, column: column)
            case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                let isMapping = event.type == YAML_MAPPING_START_EVENT
                if let last = frames.last, last.isMapping, last.expectingKey {
                    throw Violation(problem: "a mapping key must be a plain value, not a list, a mapping or an alias of one",
                                    line: line, column: column)
                }
                guard frames.count < maximumDepth else {
                    throw Violation(problem: "lists and mappings nest deeper than \(maximumDepth) levels", line: line, column: column)
                }
                let anchor = isMapping ? string(event.data.mapping_start.anchor) : string(event.data.sequence_start.anchor)
                frames.append(Frame(isMapping: isMapping, anchor: anchor))
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                guard let frame = frames.popLast() else { return }
                if let anchor = frame.anchor { anchors[anchor] = (frame.size, .collection) }
                // The collection's own children were counted as they were placed.
                expanded -= frame.size - 1
                try place(size: frame.size, kind: .collection, line: line, column: column)
            default:
                continue
            }
        }
    }

    private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        guard let pointer else { return nil }
        return String(cString: UnsafeRawPointer(pointer).assumingMemoryBound(to: CChar.self))
    }
}
