import Foundation

/// `datetime.now().strftime(format)` for `strftime_now`, in the C locale and the local time zone,
/// as Python on Linux formats it. Directives templates use (`%d %b %Y`, `%B %d, %Y`, `%Y-%m-%d`) and
/// the other common ones are covered; an unknown directive is kept as written, as glibc does.
enum Strftime {
    private static let months = ["January", "February", "March", "April", "May", "June", "July", "August",
                                 "September", "October", "November", "December"]
    private static let weekdays = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]

    static func format(_ pattern: String, _ date: Date, timeZone: TimeZone = .current) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday, .nanosecond], from: date)
        let year = c.year ?? 1970, month = c.month ?? 1, day = c.day ?? 1
        let hour = c.hour ?? 0, minute = c.minute ?? 0, second = c.second ?? 0, weekday = (c.weekday ?? 1) - 1
        let dayOfYear = calendar.ordinality(of: .day, in: .year, for: date) ?? 1
        func pad(_ n: Int, _ width: Int = 2, _ fill: Character = "0") -> String {
            let s = String(n)
            return s.count >= width ? s : String(repeating: fill, count: width - s.count) + s
        }
        var out = ""
        var iterator = pattern.unicodeScalars.makeIterator()
        while let scalar = iterator.next() {
            guard scalar == "%" else { out.unicodeScalars.append(scalar); continue }
            guard let directive = iterator.next() else { out += "%"; break }
            switch directive {
            case "a": out += String(weekdays[weekday].prefix(3))
            case "A": out += weekdays[weekday]
            case "b", "h": out += String(months[month - 1].prefix(3))
            case "B": out += months[month - 1]
            case "d": out += pad(day)
            case "e": out += pad(day, 2, " ")
            case "m": out += pad(month)
            case "y": out += pad(year % 100)
            case "Y": out += String(year)
            case "H": out += pad(hour)
            case "I": out += pad(hour % 12 == 0 ? 12 : hour % 12)
            case "M": out += pad(minute)
            case "S": out += pad(second)
            case "p": out += hour < 12 ? "AM" : "PM"
            case "j": out += pad(dayOfYear, 3)
            case "f": out += pad((c.nanosecond ?? 0) / 1000, 6)
            case "w": out += String(weekday)
            case "u": out += String(weekday == 0 ? 7 : weekday)
            case "F": out += "\(year)-\(pad(month))-\(pad(day))"
            case "D": out += "\(pad(month))/\(pad(day))/\(pad(year % 100))"
            case "T": out += "\(pad(hour)):\(pad(minute)):\(pad(second))"
            case "R": out += "\(pad(hour)):\(pad(minute))"
            case "Z": out += timeZone.abbreviation(for: date) ?? ""
            case "z":
                let offset = timeZone.secondsFromGMT(for: date)
                out += (offset < 0 ? "-" : "+") + pad(abs(offset) / 3600) + pad(abs(offset) % 3600 / 60)
            case "n": out += "\n"
            case "t": out += "\t"
            case "%": out += "%"
            default:
                out += "%"
                out.unicodeScalars.append(directive)
            }
        }
        return out
    }
}
