"""An Engine.IO long-polling session spoken by hand over HTTP, one TCP connection per request,
as the unmodified React client starts (no cookie): for tests of what a client may send."""

import http.client
import json
import socket


class Polling:
    """An Engine.IO long-polling session from one client address (no cookie, as the React
    client's first requests)."""

    def __init__(self, server, query, address):
        self.server, self.address = server, address
        status, body = self.request("GET", f"/socket.io/?EIO=4&transport=polling&{query}")
        self.status = status
        self.sid = json.loads(body[1:])["sid"] if status == 200 else None

    def request(self, method, path, body=None, timeout=5):
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=timeout,
                                          source_address=(self.address, 0))
        try:
            conn.request(method, path, body=body)
            response = conn.getresponse()
            return response.status, response.read().decode()
        finally:
            conn.close()

    def send(self, packet):
        path = f"/socket.io/?EIO=4&transport=polling&sid={self.sid}"
        status, _ = self.request("POST", path, packet)
        assert status == 200

    def poll(self, timeout=5):
        """The packets of one poll; [] if none arrive within `timeout`."""
        try:
            _, body = self.request("GET", f"/socket.io/?EIO=4&transport=polling&sid={self.sid}",
                                   timeout=timeout)
        except (socket.timeout, TimeoutError):
            return []
        return body.split("\x1e")

    def close(self):
        try:
            self.send("1")
        except (AssertionError, OSError):
            pass
