"""The one HTTP/1.1 response reader the benchmark's Python clients share (burst.py, idle.py).

Reads the head up to the blank line, then the body by Content-Length (0 when absent); a
connection closed before the response is whole raises ConnectionError. Not a general client:
no chunked bodies, no 1xx; it reads what our server and the peers send for these files."""


def read_response(sock):
    """Returns (head, body) of the next response on `sock`."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        body += chunk
    return head, body
