"""python-socketio's packet: a cheaper test for binary attachments, and only the client events
the app documents get through.

Every emit builds a Packet, whose constructor asks whether the payload holds bytes (those travel
as separate attachments). python-socketio answers by recursing into every item of every list
and dict and folding the answers with `functools.reduce`: for the online list sent to each
connecting socket (one string per online user) that walk was ~5% of the server's CPU per
connection. Strings cannot hold bytes, so they are skipped without a call, and the walk stops
at the first binary item; the answer is the same. Plugged in through python-socketio's
documented `serializer` option (a Packet subclass).

It also parses packets with `ParseSafeJSON`: a payload nested too deeply for the JSON parser
(30,000 brackets fit in SOCKET_MAX_PAYLOAD) becomes an event nobody handles, dropped quietly,
instead of a RecursionError and a traceback in the log per message.

And only the documented client events get through. Flask-SocketIO hands a client event named X
to the namespace's `on_X`, so a client could call `on_disconnect` on a live socket by emitting
"disconnect"; an event whose name is not one of `events.CLIENT_EVENTS` (or is not a string, or
has no name at all) is renamed IGNORED_EVENT, which no handler has.
"""

import json

from socketio.packet import EVENT, Packet

from chatapp.realtime.events import CLIENT_EVENTS, IGNORED_EVENT

# An event name no client can mean (it starts with NUL) and no handler answers to.
UNPARSABLE_EVENT = "\x00unparsable"


class ParseSafeJSON:
    """The json module, except that a document nested too deeply to parse reads as
    `[UNPARSABLE_EVENT]`."""

    dumps = staticmethod(json.dumps)

    @staticmethod
    def loads(text, *args, **kwargs):
        try:
            return json.loads(text, *args, **kwargs)
        except RecursionError:
            return [UNPARSABLE_EVENT]


class ChatPacket(Packet):
    json = ParseSafeJSON

    @classmethod
    def data_is_binary(cls, data):
        if isinstance(data, (bytes, bytearray)):
            return True
        if isinstance(data, list):
            items = data
        elif isinstance(data, dict):
            items = data.values()
        else:
            return False
        return any(type(item) is not str and cls.data_is_binary(item) for item in items)

    def decode(self, encoded_packet):
        attachments = super().decode(encoded_packet)
        if self.packet_type == EVENT:
            data = self.data
            if not (isinstance(data, list) and data and type(data[0]) is str
                    and data[0] in CLIENT_EVENTS):
                self.data = [IGNORED_EVENT]
        return attachments
