"""An external OAuth2 issuer for the gateway's tests: keys made at start with `cryptography`,
tokens signed by PyJWT, the public keys served as a JWKS.

HTTP: `GET /jwks.json` answers the published keys (each fetch is counted);
`POST /token` with a JSON body {"kid": ..., "claims": {...}} answers a token signed by that key
(`kid` may name a key that is not published, to make foreign tokens);
`POST /rotate` with {"kind": "rsa"|"ec"|"ed25519", "keep": bool} makes a new key, publishes it
and (unless keep) withdraws the others; answers {"kid"};
`GET /fetches` answers how many times the JWKS was fetched.

usage: python3 jwks_issuer.py   (prints `PORT <port>`, serves until killed)
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

lock = threading.Lock()
keys = {}  # kid -> (alg, private key)
published = []  # kids in the JWKS
fetches = 0


def make(kind):
    if kind == "rsa":
        return "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind == "ec":
        return "ES256", ec.generate_private_key(ec.SECP256R1())
    return "EdDSA", ed25519.Ed25519PrivateKey.generate()


def jwk(kid):
    alg, private = keys[kid]
    public = private.public_key()
    algorithm = {"RS256": RSAAlgorithm, "ES256": ECAlgorithm, "EdDSA": OKPAlgorithm}[alg]
    d = json.loads(algorithm.to_jwk(public))
    d.update({"kid": kid, "use": "sig", "alg": alg})
    return d


def rotate(kind, keep):
    kid = f"{kind}-{len(keys) + 1}"
    keys[kid] = make(kind)
    if not keep:
        published.clear()
    published.append(kid)
    return kid


# An unpublished key too, for tokens the issuer never vouched for.
keys["stranger"] = make("rsa")
rotate("rsa", False)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, value, status=200):
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        global fetches
        with lock:
            if self.path == "/jwks.json":
                fetches += 1
                self.answer({"keys": [jwk(k) for k in published]})
            elif self.path == "/fetches":
                self.answer({"fetches": fetches})
            else:
                self.answer({"error": "no such path"}, 404)

    def do_POST(self):
        req = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        with lock:
            if self.path == "/token":
                alg, private = keys[req["kid"]]
                token = jwt.encode(req["claims"], private, algorithm=alg, headers={"kid": req["kid"]})
                self.answer({"token": token})
            elif self.path == "/rotate":
                self.answer({"kid": rotate(req.get("kind", "ec"), bool(req.get("keep")))})
            else:
                self.answer({"error": "no such path"}, 404)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"PORT {server.server_address[1]}", flush=True)
server.serve_forever()
