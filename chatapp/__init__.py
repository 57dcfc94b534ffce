"""chatapp: a Flask + Flask-SocketIO chat backend, drop-in for the Node/Express/Socket.IO original.

Importing this package builds nothing; `chatapp.app.create_app` does.
"""
