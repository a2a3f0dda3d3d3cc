#!/usr/bin/env python3
"""Python's http.server over TLS, for the apk tests: serves DIRECTORY with the certificate CERT
and its key KEY on a free loopback port, and prints the port the way `python3 -m http.server`
does ("Serving HTTPS on 127.0.0.1 port N").

Usage: https_server.py DIRECTORY CERT KEY
"""
import functools
import http.server
import ssl
import sys

directory, cert, key = sys.argv[1:4]
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=directory)
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
server.socket = ctx.wrap_socket(server.socket, server_side=True)
print("Serving HTTPS on 127.0.0.1 port", server.server_address[1], flush=True)
server.serve_forever()
