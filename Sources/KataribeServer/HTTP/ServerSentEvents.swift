import Hummingbird

/// Server-sent events as OpenAI streams them: `data: {json}` blocks, then `data: [DONE]`.
enum ServerSentEvents {
    static func event<T: Encodable>(_ value: T) -> ByteBuffer {
        var buffer = ByteBuffer(string: "data: ")
        buffer.writeBytes(JSONCoding.encode(value))
        buffer.writeString("\n\n")
        return buffer
    }

    static var done: ByteBuffer { ByteBuffer(string: "data: [DONE]\n\n") }

    static var headers: HTTPFields {
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream; charset=utf-8"
        headers[.cacheControl] = "no-cache"
        return headers
    }
}

extension Response {
    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: JSONCoding.encode(value))))
    }

    /// The same response, telling the client not to send another request on this connection.
    static func closingConnection(_ response: Response) -> Response {
        var response = response
        response.headers[.connection] = "close"
        return response
    }
}
