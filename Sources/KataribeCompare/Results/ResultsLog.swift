import Foundation

/// The parsed content of a `results.jsonl`, read without changing it.
///
/// Lines that are valid JSON but not a record this version knows are skipped with a warning (a newer
/// Kataribe may add record types). Lines that are not JSON at all are damage: when they end the file
/// (the usual trace of a write cut short by a crash or SIGKILL) they form the `corruptTail`, which
/// `ResultsStore` truncates away; elsewhere they are skipped with a warning.
public struct ResultsLog: Sendable {
    public var entries: [ResultEntry]
    public var warnings: [String]
    /// Byte range of trailing damage (incomplete or unparseable last lines), if any.
    public var corruptTail: Range<Int>?
    /// 1-based line number where `corruptTail` starts.
    public var corruptTailLine: Int?

    public static let fileName = "results.jsonl"

    /// Reads `directory/results.jsonl`; a missing file is an empty log.
    public static func read(directory: URL) throws(ResultsStoreError) -> ResultsLog {
        let url = directory.appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: url.path) else { return ResultsLog(entries: [], warnings: []) }
        do {
            return parse(try Data(contentsOf: url), file: url.path)
        } catch {
            throw .unreadable(path: url.path, reason: (error as NSError).localizedDescription)
        }
    }

    public init(entries: [ResultEntry], warnings: [String], corruptTail: Range<Int>? = nil, corruptTailLine: Int? = nil) {
        self.entries = entries
        self.warnings = warnings
        self.corruptTail = corruptTail
        self.corruptTailLine = corruptTailLine
    }

    public static func parse(_ data: Data, file: String) -> ResultsLog {
        let bytes = [UInt8](data)
        let decoder = JSONDecoder()
        var entries: [ResultEntry] = []
        var warnings: [String] = []
        // Damaged lines since the last good one: (line number, byte offset).
        var damagedRun: [(line: Int, offset: Int)] = []
        var start = 0, lineNumber = 0
        while start < bytes.count {
            lineNumber += 1
            let end = bytes[start...].firstIndex(of: 0x0A) ?? bytes.count
            let line = bytes[start..<end]
            let complete = end < bytes.count
            defer { start = end + 1 }
            if complete, line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            let payload = Data(line)
            if complete, let entry = try? decoder.decode(ResultEntry.self, from: payload) {
                warnings += damagedRun.map { "\(file):\($0.line): skipped a damaged line" }
                damagedRun = []
                entries.append(entry)
            } else if complete, (try? JSONSerialization.jsonObject(with: payload)) is [String: Any] {
                warnings += damagedRun.map { "\(file):\($0.line): skipped a damaged line" }
                damagedRun = []
                warnings.append("\(file):\(lineNumber): skipped a record this version does not know")
            } else {
                damagedRun.append((lineNumber, start))
            }
        }
        guard let first = damagedRun.first else { return ResultsLog(entries: entries, warnings: warnings) }
        return ResultsLog(entries: entries, warnings: warnings, corruptTail: first.offset..<bytes.count, corruptTailLine: first.line)
    }
}

public enum ResultsStoreError: Error, CustomStringConvertible, Equatable, Sendable {
    case cannotCreateDirectory(path: String, reason: String)
    case cannotOpen(path: String, reason: String)
    /// Another `kataribe compare` process is writing to the same output folder.
    case locked(path: String)
    case writeFailed(path: String, reason: String)
    case unreadable(path: String, reason: String)

    public var description: String {
        switch self {
        case let .cannotCreateDirectory(path, reason): return "\(path): cannot create the output folder: \(reason)"
        case let .cannotOpen(path, reason): return "\(path): cannot open: \(reason)"
        case .locked(let path): return "\(path): another kataribe compare is writing to this output folder"
        case let .writeFailed(path, reason): return "\(path): write failed: \(reason)"
        case let .unreadable(path, reason): return "\(path): cannot read: \(reason)"
        }
    }
}
