"""Socket.IO: who is online (presence), and the events the server pushes to clients."""
