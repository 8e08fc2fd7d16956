import KataribeTensor

/// The values a torch checkpoint pickle can build. Containers are reference types: lists and dicts
/// because the pickle protocol fills them after they were memoized, and all of them (tuples too)
/// so that a `PickleArena` can take them apart without recursion.
enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple(PickleTuple)
    case list(PickleList)
    case dict(PickleDict)
    case global(AllowedGlobal)
    case storage(PickledStorage)
    case tensor(PickledTensor)

    var kindName: String {
        switch self {
        case .none: "None"
        case .bool: "bool"
        case .int: "int"
        case .float: "float"
        case .string: "str"
        case .bytes: "bytes"
        case .tuple: "tuple"
        case .list: "list"
        case .dict: "dict"
        case .global: "global"
        case .storage: "storage"
        case .tensor: "tensor"
        }
    }
}

final class PickleTuple {
    fileprivate(set) var items: [PickleValue]
    init(_ items: [PickleValue]) { self.items = items }
}

final class PickleList { var items: [PickleValue] = [] }

final class PickleDict {
    var pairs: [(key: PickleValue, value: PickleValue)] = []
}

/// Owns every container one pickle built. Freeing 100,000 nested lists or tuples the ordinary way
/// recurses once per level (each container's deinit releases the next) and overflows the stack;
/// `dismantle` empties every container while the arena still holds them all, so each release
/// frees one shallow object. It also breaks the reference cycles that memo + APPEND can build.
final class PickleArena {
    private var tuples: [PickleTuple] = []
    private var lists: [PickleList] = []
    private var dicts: [PickleDict] = []

    func tuple(_ items: [PickleValue]) -> PickleValue {
        let tuple = PickleTuple(items)
        tuples.append(tuple)
        return .tuple(tuple)
    }

    func list(_ items: [PickleValue] = []) -> PickleList {
        let list = PickleList()
        list.items = items
        lists.append(list)
        return list
    }

    func dict() -> PickleDict {
        let dict = PickleDict()
        dicts.append(dict)
        return dict
    }

    /// Empties every container; values read out of the pickle before this stay valid only as far
    /// as they are not containers.
    func dismantle() {
        for tuple in tuples { tuple.items = [] }
        for list in lists { list.items = [] }
        for dict in dicts { dict.pairs = [] }
        tuples = []
        lists = []
        dicts = []
    }
}

/// The only globals a torch state dict needs. Anything else is refused by name before it
/// could be called: this unpickler never executes code.
enum AllowedGlobal: Equatable {
    case orderedDict
    case rebuildTensorV2
    case rebuildParameter
    case storageType(DType)

    init?(module: String, name: String) {
        switch (module, name) {
        case ("collections", "OrderedDict"): self = .orderedDict
        case ("torch._utils", "_rebuild_tensor_v2"): self = .rebuildTensorV2
        case ("torch._utils", "_rebuild_parameter"): self = .rebuildParameter
        case ("torch", "FloatStorage"): self = .storageType(.float32)
        case ("torch", "HalfStorage"): self = .storageType(.float16)
        case ("torch", "BFloat16Storage"): self = .storageType(.bfloat16)
        case ("torch", "DoubleStorage"): self = .storageType(.float64)
        case ("torch", "ByteStorage"): self = .storageType(.uint8)
        case ("torch", "CharStorage"): self = .storageType(.int8)
        case ("torch", "BoolStorage"): self = .storageType(.bool)
        case ("torch", "ShortStorage"): self = .storageType(.int16)
        case ("torch", "IntStorage"): self = .storageType(.int32)
        case ("torch", "LongStorage"): self = .storageType(.int64)
        default: return nil
        }
    }
}

/// `('storage', torch.XStorage, key, location, numel)` from `persistent_load`.
struct PickledStorage {
    let dtype: DType
    let key: String
    let elementCount: Int
}

/// `_rebuild_tensor_v2(storage, storage_offset, size, stride, ...)`, not yet materialized.
struct PickledTensor {
    let storage: PickledStorage
    let offset: Int
    let shape: [Int]
    let strides: [Int]
}

/// A restricted pickle virtual machine for protocol 2 (and the protocol 3-5 opcodes a newer
/// pickler may emit for the same data). It builds `PickleValue`s only.
struct PickleMachine {
    let path: String
    let bytes: UnsafeRawBufferPointer

    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]
    private var position = 0
    private let arena = PickleArena()

    /// Frees everything the pickle built without recursion (see `PickleArena`). Call once the
    /// values `run` returned are no longer needed, on success and on failure alike.
    mutating func dismantle() {
        stack = []
        memo = [:]
        arena.dismantle()
    }

    init(path: String, bytes: UnsafeRawBufferPointer) {
        self.path = path
        self.bytes = bytes
    }

    private func malformed(_ why: String) -> CheckpointError {
        CheckpointError(file: path, .malformedPickle(why))
    }

    private mutating func take(_ count: Int) throws(CheckpointError) -> UnsafeRawBufferPointer {
        guard count >= 0, count <= bytes.count - position else { throw malformed("unexpected end of data") }
        defer { position += count }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<(position + count)])
    }

    private mutating func byte() throws(CheckpointError) -> UInt8 { try take(1)[0] }

    private mutating func littleEndian(_ count: Int) throws(CheckpointError) -> UInt64 {
        let b = try take(count)
        var v: UInt64 = 0
        for i in 0..<count { v |= UInt64(b[i]) << (8 * i) }
        return v
    }

    private mutating func line() throws(CheckpointError) -> String {
        guard let end = bytes[position...].firstIndex(of: 0x0A) else { throw malformed("unterminated line") }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[position..<end]), as: UTF8.self)
        position = end + 1
        return text
    }

    private mutating func pop() throws(CheckpointError) -> PickleValue {
        guard let top = stack.popLast() else { throw malformed("stack underflow") }
        if let mark = marks.last, stack.count < mark { throw malformed("stack underflow past mark") }
        return top
    }

    private mutating func popToMark() throws(CheckpointError) -> [PickleValue] {
        guard let mark = marks.popLast(), mark <= stack.count else { throw malformed("no mark on the stack") }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    private func resolveGlobal(module: String, name: String) throws(CheckpointError) -> PickleValue {
        guard let allowed = AllowedGlobal(module: module, name: name) else {
            throw CheckpointError(file: path, .forbiddenGlobal("\(module).\(name)"))
        }
        return .global(allowed)
    }

    /// Runs the program to STOP and returns the value it built.
    mutating func run() throws(CheckpointError) -> PickleValue {
        // Each opcode consumes at least one byte, so the loop is bounded by the input size.
        while true {
            let opcodeOffset = position
            let op = try byte()
            switch op {
            case 0x80:  // PROTO
                let version = try byte()
                guard version <= 5 else { throw malformed("pickle protocol \(version) is unknown") }
            case 0x95:  // FRAME: length prefix only; frames are contiguous in the buffer.
                _ = try take(8)
            case 0x2E:  // STOP
                return try pop()
            case 0x28:  // MARK
                marks.append(stack.count)
            case 0x4E: stack.append(.none)  // NONE
            case 0x88: stack.append(.bool(true))  // NEWTRUE
            case 0x89: stack.append(.bool(false))  // NEWFALSE
            case 0x4A:  // BININT
                stack.append(.int(Int(Int32(bitPattern: UInt32(try littleEndian(4))))))
            case 0x4B: stack.append(.int(Int(try byte())))  // BININT1
            case 0x4D: stack.append(.int(Int(try littleEndian(2))))  // BININT2
            case 0x8A:  // LONG1
                let count = Int(try byte())
                guard count <= 8 else { throw malformed("integer of \(count) bytes is too large") }
                if count == 0 { stack.append(.int(0)); break }
                let raw = try littleEndian(count)
                let shift = UInt64(64 - 8 * count)
                stack.append(.int(Int(Int64(bitPattern: raw << shift) >> Int64(shift))))
            case 0x47:  // BINFLOAT (big-endian)
                let b = try take(8)
                var bits: UInt64 = 0
                for i in 0..<8 { bits = bits << 8 | UInt64(b[i]) }
                stack.append(.float(Double(bitPattern: bits)))
            case 0x58:  // BINUNICODE
                let count = Int(try littleEndian(4))
                stack.append(.string(String(decoding: try take(count), as: UTF8.self)))
            case 0x8C:  // SHORT_BINUNICODE
                let count = Int(try byte())
                stack.append(.string(String(decoding: try take(count), as: UTF8.self)))
            case 0x8D:  // BINUNICODE8
                let count = try littleEndian(8)
                guard count <= UInt64(bytes.count) else { throw malformed("string longer than the pickle") }
                stack.append(.string(String(decoding: try take(Int(count)), as: UTF8.self)))
            case 0x54, 0x55:  // BINSTRING, SHORT_BINSTRING (Python 2 str)
                let count = op == 0x54 ? Int(try littleEndian(4)) : Int(try byte())
                stack.append(.string(String(decoding: try take(count), as: UTF8.self)))
            case 0x42, 0x43:  // BINBYTES, SHORT_BINBYTES
                let count = op == 0x42 ? Int(try littleEndian(4)) : Int(try byte())
                stack.append(.bytes(Array(try take(count))))
            case 0x29: stack.append(arena.tuple([]))  // EMPTY_TUPLE
            case 0x74: stack.append(arena.tuple(try popToMark()))  // TUPLE
            case 0x85:  // TUPLE1
                stack.append(arena.tuple([try pop()]))
            case 0x86:  // TUPLE2
                let b = try pop(), a = try pop()
                stack.append(arena.tuple([a, b]))
            case 0x87:  // TUPLE3
                let c = try pop(), b = try pop(), a = try pop()
                stack.append(arena.tuple([a, b, c]))
            case 0x5D: stack.append(.list(arena.list()))  // EMPTY_LIST
            case 0x6C:  // LIST
                stack.append(.list(arena.list(try popToMark())))
            case 0x7D: stack.append(.dict(arena.dict()))  // EMPTY_DICT
            case 0x64:  // DICT
                let items = try popToMark()
                let dict = arena.dict()
                try fill(dict, items)
                stack.append(.dict(dict))
            case 0x61:  // APPEND
                let value = try pop()
                guard case .list(let list) = stack.last else { throw malformed("APPEND to a non-list") }
                list.items.append(value)
            case 0x65:  // APPENDS
                let items = try popToMark()
                guard case .list(let list) = stack.last else { throw malformed("APPENDS to a non-list") }
                list.items.append(contentsOf: items)
            case 0x73:  // SETITEM
                let value = try pop(), key = try pop()
                guard case .dict(let dict) = stack.last else { throw malformed("SETITEM on a non-dict") }
                dict.pairs.append((key, value))
            case 0x75:  // SETITEMS
                let items = try popToMark()
                guard case .dict(let dict) = stack.last else { throw malformed("SETITEMS on a non-dict") }
                try fill(dict, items)
            case 0x30: _ = try pop()  // POP
            case 0x31: _ = try popToMark()  // POP_MARK
            case 0x32:  // DUP
                guard let top = stack.last else { throw malformed("DUP on an empty stack") }
                stack.append(top)
            case 0x71: memo[Int(try byte())] = try peek()  // BINPUT
            case 0x72: memo[Int(try littleEndian(4))] = try peek()  // LONG_BINPUT
            case 0x94: memo[memo.count] = try peek()  // MEMOIZE
            case 0x68, 0x6A:  // BINGET, LONG_BINGET
                let index = op == 0x68 ? Int(try byte()) : Int(try littleEndian(4))
                guard let value = memo[index] else { throw malformed("memo slot \(index) is empty") }
                stack.append(value)
            case 0x63:  // GLOBAL "module\nname\n"
                let module = try line()
                let name = try line()
                stack.append(try resolveGlobal(module: module, name: name))
            case 0x93:  // STACK_GLOBAL
                let nameValue = try pop(), moduleValue = try pop()
                guard case .string(let name) = nameValue, case .string(let module) = moduleValue else {
                    throw malformed("STACK_GLOBAL needs two strings")
                }
                stack.append(try resolveGlobal(module: module, name: name))
            case 0x52:  // REDUCE
                let arguments = try pop(), callable = try pop()
                stack.append(try call(callable, arguments))
            case 0x81:  // NEWOBJ
                let arguments = try pop(), cls = try pop()
                guard case .global(.orderedDict) = cls else { throw malformed("NEWOBJ of \(cls.kindName)") }
                _ = arguments
                stack.append(.dict(arena.dict()))
            case 0x62:  // BUILD: only state on an OrderedDict (torch's `_metadata`) is expected.
                let state = try pop()
                guard case .dict = stack.last else { throw malformed("BUILD on \(stack.last?.kindName ?? "nothing")") }
                guard case .dict = state else { throw malformed("BUILD with \(state.kindName) state") }
            case 0x51:  // BINPERSID
                stack.append(try persistentLoad(try pop()))
            default:
                throw CheckpointError(file: path, .unsupportedOpcode(op, offset: opcodeOffset))
            }
        }
    }

    private func peek() throws(CheckpointError) -> PickleValue {
        guard let top = stack.last else { throw malformed("memoizing an empty stack") }
        return top
    }

    private func fill(_ dict: PickleDict, _ items: [PickleValue]) throws(CheckpointError) {
        guard items.count % 2 == 0 else { throw malformed("odd number of dict items") }
        var i = 0
        while i < items.count {
            dict.pairs.append((items[i], items[i + 1]))
            i += 2
        }
    }

    private func call(_ callable: PickleValue, _ arguments: PickleValue) throws(CheckpointError) -> PickleValue {
        guard case .global(let function) = callable, case .tuple(let argumentTuple) = arguments else {
            throw malformed("REDUCE of \(callable.kindName) with \(arguments.kindName)")
        }
        let args = argumentTuple.items
        switch function {
        case .orderedDict:
            guard args.isEmpty else { throw malformed("OrderedDict with arguments") }
            return .dict(arena.dict())
        case .rebuildTensorV2:
            guard args.count == 6 || args.count == 7,
                  case .storage(let storage) = args[0], case .int(let offset) = args[1],
                  case .tuple(let sizeTuple) = args[2], case .tuple(let strideTuple) = args[3]
            else { throw malformed("unexpected _rebuild_tensor_v2 arguments") }
            if args.count == 7, case .dict(let metadata) = args[6], !metadata.pairs.isEmpty {
                throw malformed("tensor metadata (conjugate/negative views) is not supported")
            }
            let shape = try integers(sizeTuple.items), strides = try integers(strideTuple.items)
            guard shape.count == strides.count, offset >= 0 else { throw malformed("tensor size and stride disagree") }
            return .tensor(PickledTensor(storage: storage, offset: offset, shape: shape, strides: strides))
        case .rebuildParameter:
            guard args.count == 3, case .tensor = args[0] else { throw malformed("unexpected _rebuild_parameter arguments") }
            return args[0]
        case .storageType:
            throw malformed("storage types cannot be called")
        }
    }

    private func integers(_ values: [PickleValue]) throws(CheckpointError) -> [Int] {
        var result: [Int] = []
        for v in values {
            guard case .int(let i) = v, i >= 0 else { throw malformed("tensor sizes must be non-negative integers") }
            result.append(i)
        }
        return result
    }

    private func persistentLoad(_ pid: PickleValue) throws(CheckpointError) -> PickleValue {
        guard case .tuple(let pidTuple) = pid, case let parts = pidTuple.items, parts.count == 5,
              case .string("storage") = parts[0], case .global(.storageType(let dtype)) = parts[1],
              case .string(let key) = parts[2], case .string = parts[3], case .int(let count) = parts[4], count >= 0
        else { throw malformed("persistent id is not a ('storage', type, key, location, numel) tuple") }
        return .storage(PickledStorage(dtype: dtype, key: key, elementCount: count))
    }
}
