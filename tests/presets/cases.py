"""Requests signed for every verification preset, by the provider's own library where one can sign
(svix, standardwebhooks, twilio, slack_sdk, hubspot-api-client, @contentful/node-apps-toolkit,
@octokit/webhooks-methods for GitHub, PyNaCl for Ed25519 keys), else signed as the provider
documents and checked with the provider's own verifier first where it has one (stripe, sendgrid,
paddle-python-sdk, squareup, @shopify/shopify-api, @linear/sdk, @zoom/rivet), plus Bitbucket's
published test vector (also run through Jira, WebSub and Meta/WhatsApp, which sign the same way).
The providers with neither an SDK verifier nor a published vector (WooCommerce, Typeform, Intercom,
Sentry, Vercel, X, PagerDuty, CircleCI, DocuSign, Mailgun, Calendly, Twitch, Trello, Asana; GitLab,
Okta and Postmark send a token, not a signature) are signed as their documentation says, by code
independent of Onset's. Prints JSON:
the components to deploy and the requests to send, each with the status (and body) expected.

usage: python3 cases.py BASE_URL   (BASE_URL: the server, e.g. http://127.0.0.1:8080)
"""

import base64
import datetime
import hashlib
import hmac
import json
import subprocess
import sys
import time
import urllib.parse
import uuid
from pathlib import Path

BASE = sys.argv[1].rstrip("/")
NOW = int(time.time())
STALE = NOW - 3600
ROOT = Path(__file__).resolve().parents[2]

components = []
requests = []


def b64(data):
    return base64.b64encode(data).decode()


def mac(secret, message, algo=hashlib.sha256):
    if isinstance(secret, str):
        secret = secret.encode()
    if isinstance(message, str):
        message = message.encode()
    return hmac.new(secret, message, algo).digest()


def component(preset, verify=None, config=None, name=None):
    name = name or f"p-{preset}"
    verify = verify if verify is not None else {"preset": preset, "secret": "{{ config.secret }}"}
    components.append({"name": name, "verify": verify, "config": config or {}})
    return name


def url_of(name):
    return f"{BASE}/hooks/development/{name}"


def send(name, label, headers, body, expect, method="POST", query="", expect_body=None, content_type="application/json"):
    h = {"content-type": content_type} if content_type else {}
    h.update(headers)
    requests.append({
        "component": name, "label": label, "method": method, "query": query, "headers": h,
        "body": body, "expect": expect, "expect_body": expect_body,
    })


def cases(name, sign, body, tamper, stale=True, content_type="application/json"):
    """A request signed now (accepted), one with the body changed after signing, one signed
    with another secret, and (for schemes with a timestamp) one signed an hour ago. "Now" is read
    here, not at the start: the providers' own libraries take a while to load."""
    now = int(time.time())
    send(name, "signed", sign(body, now, True), body, 202, content_type=content_type)
    send(name, "tampered body", sign(body, now, True), tamper(body), 401, content_type=content_type)
    send(name, "wrong key", sign(body, now, False), body, 401, content_type=content_type)
    if stale:
        send(name, "stale timestamp", sign(body, now - 3600, True), body, 401, content_type=content_type)


def json_body(**extra):
    event = {"id": "evt_" + uuid.uuid4().hex[:12], "type": "test.event", "data": {"n": 1}}
    event.update(extra)
    return json.dumps(event, separators=(",", ":"))


def flip(body):
    return body.replace('"n":1', '"n":2') if '"n":1' in body else body + " "


def node(script, *args):
    return subprocess.run(["node", "--input-type=module", "-e", script, *args], check=True, capture_output=True,
                          text=True, cwd=ROOT / "tests" / "npm").stdout.strip()


# --- Stripe: signed as documented (t=…,v1=HMAC-SHA256 of "{t}.{body}"), checked by stripe's SDK.
import stripe

STRIPE = "whsec_stripe_test_secret"
name = component("stripe")
components[-1]["config"] = {"secret": STRIPE}


def stripe_sign(body, ts, good):
    key = STRIPE if good else "whsec_other"
    header = f"t={ts},v1={mac(key, f'{ts}.{body}').hex()},v0=unused"
    if good and ts == NOW:
        stripe.WebhookSignature.verify_header(body, header, STRIPE, tolerance=300)
    return {"Stripe-Signature": header}


cases(name, stripe_sign, json_body(object="event"), flip)

# --- Svix and the services that send through it, by svix's own library.
from svix.webhooks import Webhook as SvixWebhook

SVIX = "whsec_" + b64(b"svix-test-secret-key-32-bytes!!!")
for preset in ["svix", "clerk", "resend"]:
    name = component(preset, config={"secret": SVIX})

    def svix_sign(body, ts, good):
        msg_id = "msg_" + uuid.uuid4().hex[:16]
        key = SVIX if good else "whsec_" + b64(b"another-secret-key-of-32-bytes!!")
        sig = SvixWebhook(key).sign(msg_id, datetime.datetime.fromtimestamp(ts, tz=datetime.timezone.utc), body)
        return {"svix-id": msg_id, "svix-timestamp": str(ts), "svix-signature": sig}

    cases(name, svix_sign, json_body(), flip)

# --- Standard Webhooks: symmetric by the reference library, asymmetric (v1a, Ed25519) by PyNaCl.
from standardwebhooks.webhooks import Webhook as StandardWebhook
import nacl.signing

SW = "whsec_" + b64(b"standard-webhooks-secret-32bytes")
name = component("standard-webhooks", config={"secret": SW})


def sw_sign(body, ts, good):
    msg_id = "msg_" + uuid.uuid4().hex[:16]
    key = SW if good else "whsec_" + b64(b"some-other-secret-key-of-32bytes")
    sig = StandardWebhook(key).sign(msg_id, datetime.datetime.fromtimestamp(ts, tz=datetime.timezone.utc), body)
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": sig}


cases(name, sw_sign, json_body(), flip)

SW_KEY = nacl.signing.SigningKey(b"\x11" * 32)
SW_OTHER = nacl.signing.SigningKey(b"\x22" * 32)
name = component("standard-webhooks", name="p-standard-webhooks-ed25519",
                 verify={"preset": "standard-webhooks", "public_key": "whpk_" + b64(SW_KEY.verify_key.encode())})


def sw_ed_sign(body, ts, good):
    msg_id = "msg_" + uuid.uuid4().hex[:16]
    key = SW_KEY if good else SW_OTHER
    sig = key.sign(f"{msg_id}.{ts}.{body}".encode()).signature
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": f"v1a,{b64(sig)}"}


cases(name, sw_ed_sign, json_body(), flip)

# --- GitHub: @octokit/webhooks-methods signs.
GH = "github-webhook-secret"
name = component("github", config={"secret": GH})
GITHUB_SIGN = "import { sign } from '@octokit/webhooks-methods'; console.log(await sign(process.argv[1], process.argv[2]));"


def github_sign(body, ts, good):
    return {"X-Hub-Signature-256": node(GITHUB_SIGN, GH if good else "nope", body),
            "X-GitHub-Delivery": str(uuid.uuid4()), "X-GitHub-Event": "ping"}


cases(name, github_sign, json_body(zen="Keep it logically awesome."), flip, stale=False)


# --- Documented HMAC schemes over the body (no SDK that signs): header = prefix + encode(HMAC).
def body_hmac(preset, header, secret, algo=hashlib.sha256, encode="hex", prefix="", extra=None):
    name = component(preset, config={"secret": secret})

    def sign(body, ts, good):
        digest = mac(secret if good else "wrong-secret", body, algo)
        value = prefix + (digest.hex() if encode == "hex" else b64(digest))
        headers = {header: value}
        headers.update(extra() if extra else {})
        return headers

    cases(name, sign, json_body(), flip, stale=False)


body_hmac("bitbucket", "X-Hub-Signature", "bitbucket-secret", prefix="sha256=",
          extra=lambda: {"X-Request-UUID": str(uuid.uuid4())})
body_hmac("jira", "X-Hub-Signature", "jira-secret", prefix="sha256=",
          extra=lambda: {"X-Atlassian-Webhook-Identifier": uuid.uuid4().hex})
body_hmac("woocommerce", "X-WC-Webhook-Signature", "wc-secret", encode="base64",
          extra=lambda: {"X-WC-Webhook-Delivery-ID": uuid.uuid4().hex})
body_hmac("typeform", "Typeform-Signature", "typeform-secret", encode="base64", prefix="sha256=")
body_hmac("intercom", "X-Hub-Signature", "intercom-client-secret", algo=hashlib.sha1, prefix="sha1=")
body_hmac("sentry", "Sentry-Hook-Signature", "sentry-client-secret", extra=lambda: {"Request-ID": uuid.uuid4().hex})
body_hmac("vercel", "x-vercel-signature", "vercel-secret", algo=hashlib.sha1)
body_hmac("meta", "X-Hub-Signature-256", "meta-app-secret", prefix="sha256=")
components[-1]["verify"]["verify_token"] = "meta-verify-token"
body_hmac("whatsapp", "X-Hub-Signature-256", "whatsapp-app-secret", prefix="sha256=")
components[-1]["verify"]["verify_token"] = "wa-verify-token"
body_hmac("x", "x-twitter-webhooks-signature", "x-consumer-secret", encode="base64", prefix="sha256=")
body_hmac("websub", "X-Hub-Signature", "websub-secret", prefix="sha256=")
body_hmac("pagerduty", "X-PagerDuty-Signature", "pd-secret", prefix="v1=")
body_hmac("circleci", "circleci-signature", "circleci-secret", prefix="v1=")
body_hmac("docusign", "X-DocuSign-Signature-1", "docusign-hmac-key", encode="base64")

# --- A published test vector: Atlassian's Bitbucket documentation signs "Hello World!" with the
# secret "It's a Secret to Everybody" as below (the literal from the docs, not computed here). Jira,
# WebSub and Meta/WhatsApp sign the same way, so the same vector must pass their presets too.
VECTOR_SECRET, VECTOR_BODY = "It's a Secret to Everybody", "Hello World!"
VECTOR_SIGNATURE = "sha256=a4771c39fbe90f317c7824e83ddef3caae9cb3d976c214ace1f2937e133263c9"
for preset, header, extra in [("bitbucket", "X-Hub-Signature", {}), ("jira", "X-Hub-Signature", {}),
                              ("websub", "X-Hub-Signature", {}),
                              ("meta", "X-Hub-Signature-256", {"verify_token": "t"}),
                              ("whatsapp", "X-Hub-Signature-256", {"verify_token": "t"})]:
    name = component(preset, verify={"preset": preset, "secret": "{{ config.secret }}", **extra},
                     config={"secret": VECTOR_SECRET}, name=f"v-{preset}")
    send(name, "published vector", {header: VECTOR_SIGNATURE}, VECTOR_BODY, 202, content_type="text/plain")
    send(name, "published vector, body changed", {header: VECTOR_SIGNATURE}, "Hello World?", 401,
         content_type="text/plain")

# --- Shopify: base64 HMAC of the body, checked by @shopify/shopify-api's own webhooks.validate first.
SHOPIFY = "shpss_secret"
SHOPIFY_VALIDATE = """
import '@shopify/shopify-api/adapters/node';
import { shopifyApi, ApiVersion } from '@shopify/shopify-api';
const [secret, body, hmac] = process.argv.slice(1);
const shopify = shopifyApi({ apiKey: 'k', apiSecretKey: secret, scopes: [], hostName: 'localhost',
  apiVersion: ApiVersion.October24, isEmbeddedApp: false, logger: { level: 0 } });
const headers = { 'x-shopify-hmac-sha256': hmac, 'x-shopify-topic': 'orders/create',
  'x-shopify-api-version': '2024-10', 'x-shopify-shop-domain': 'onset-test.myshopify.com',
  'x-shopify-webhook-id': 'w', 'x-shopify-event-id': 'e', 'x-shopify-triggered-at': new Date().toISOString() };
const result = await shopify.webhooks.validate({ rawBody: body, rawRequest: { headers, method: 'POST', url: '/' }, rawResponse: {} });
console.log(JSON.stringify(result.valid));
"""
name = component("shopify", config={"secret": SHOPIFY})


def shopify_sign(body, ts, good):
    value = b64(mac(SHOPIFY if good else "wrong-secret", body))
    assert node(SHOPIFY_VALIDATE, SHOPIFY, body, value) == ("true" if good else "false")
    return {"X-Shopify-Hmac-Sha256": value, "X-Shopify-Webhook-Id": str(uuid.uuid4()), "X-Shopify-Topic": "orders/create"}


cases(name, shopify_sign, json_body(), flip, stale=False)

# --- GitLab, Okta: a shared token; Postmark: basic auth. No body signature: a wrong token is refused.
name = component("gitlab", config={"secret": "gitlab-token"})
send(name, "signed", {"X-Gitlab-Token": "gitlab-token", "X-Gitlab-Event-UUID": str(uuid.uuid4())}, json_body(), 202)
send(name, "wrong key", {"X-Gitlab-Token": "other"}, json_body(), 401)
name = component("okta", config={"secret": "Bearer okta-shared"})
send(name, "signed", {"Authorization": "Bearer okta-shared"}, json.dumps({"eventId": uuid.uuid4().hex}), 202)
send(name, "wrong key", {"Authorization": "Bearer nope"}, json_body(), 401)
name = component("postmark", verify={"preset": "postmark", "username": "pm", "password": "{{ config.secret }}"},
                 config={"secret": "postmark-pass"})
send(name, "signed", {"Authorization": "Basic " + b64(b"pm:postmark-pass")}, json_body(RecordType="Delivery"), 202)
send(name, "wrong key", {"Authorization": "Basic " + b64(b"pm:guess")}, json_body(), 401)

# --- Slack: slack_sdk's SignatureVerifier signs.
from slack_sdk.signature import SignatureVerifier

SLACK = "8f742231b10e8888abcd99yyyzzz85a5"
name = component("slack", config={"secret": SLACK})


def slack_sign(body, ts, good):
    return {"X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": SignatureVerifier(SLACK if good else "x" * 32).generate_signature(timestamp=str(ts), body=body)}


cases(name, slack_sign, json.dumps({"type": "event_callback", "event_id": "Ev" + uuid.uuid4().hex[:8], "n": 1}), flip)
challenge = {"token": "t", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"}
body = json.dumps(challenge)
send(name, "handshake url_verification", slack_sign(body, NOW, True), body, 200,
     expect_body={"challenge": challenge["challenge"]})

# --- Twilio: twilio's RequestValidator signs the URL and the sorted form parameters.
from twilio.request_validator import RequestValidator

TWILIO = "12345678901234567890123456789012"
name = component("twilio", config={"secret": TWILIO})
params = {"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234", "From": "+12349013030",
          "To": "+18005551212"}
form = urllib.parse.urlencode(params)


def twilio_sign(body, ts, good):
    fields = dict(urllib.parse.parse_qsl(body))
    signature = RequestValidator(TWILIO if good else "0" * 32).compute_signature(url_of(name), fields)
    return {"X-Twilio-Signature": signature, "I-Twilio-Idempotency-Token": uuid.uuid4().hex}


cases(name, twilio_sign, form, lambda b: b.replace("Digits=1234", "Digits=9999"), stale=False,
      content_type="application/x-www-form-urlencoded")

# --- SendGrid: ECDSA P-256 over timestamp + body, signed with cryptography and checked by
# sendgrid's own EventWebhook helper before it is sent.
from cryptography.hazmat.primitives import hashes as sg_hashes, serialization as sg_serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sendgrid.helpers.eventwebhook import EventWebhook

SG_KEY = ec.generate_private_key(ec.SECP256R1())
SG_OTHER = ec.generate_private_key(ec.SECP256R1())
SG_PUBLIC = b64(SG_KEY.public_key().public_bytes(sg_serialization.Encoding.DER,
                                                 sg_serialization.PublicFormat.SubjectPublicKeyInfo))
name = component("sendgrid", verify={"preset": "sendgrid", "public_key": SG_PUBLIC})


def sendgrid_sign(body, ts, good):
    signature = b64((SG_KEY if good else SG_OTHER).sign(f"{ts}{body}".encode(), ec.ECDSA(sg_hashes.SHA256())))
    if good:
        helper = EventWebhook(SG_PUBLIC)
        assert helper.verify_signature(body, signature, str(ts))
    return {"X-Twilio-Email-Event-Webhook-Signature": signature, "X-Twilio-Email-Event-Webhook-Timestamp": str(ts)}


cases(name, sendgrid_sign, json.dumps([{"email": "a@example.com", "event": "delivered", "n": 1}]), flip)

# --- Mailgun: the signature is in the body, over timestamp + token (as Mailgun documents).
MAILGUN = "key-mailgun-signing"
name = component("mailgun", config={"secret": MAILGUN})


def mailgun_body(ts, good, token=None):
    token = token or uuid.uuid4().hex
    signature = mac(MAILGUN if good else "wrong", f"{ts}{token}").hex()
    return json.dumps({"signature": {"timestamp": str(ts), "token": token, "signature": signature},
                       "event-data": {"event": "delivered", "id": uuid.uuid4().hex}})


send(name, "signed", {}, mailgun_body(NOW, True), 202)
send(name, "tampered token", {}, mailgun_body(NOW, True).replace('"token": "', '"token": "x'), 401)
send(name, "wrong key", {}, mailgun_body(NOW, False), 401)
send(name, "stale timestamp", {}, mailgun_body(STALE, True), 401)

# --- Discord: Ed25519 (PyNaCl) over timestamp + body; PING answered with PONG.
DISCORD = nacl.signing.SigningKey(b"\x33" * 32)
DISCORD_OTHER = nacl.signing.SigningKey(b"\x44" * 32)
name = component("discord", verify={"preset": "discord", "public_key": DISCORD.verify_key.encode().hex()})


def discord_sign(body, ts, good):
    sig = (DISCORD if good else DISCORD_OTHER).sign(f"{ts}{body}".encode()).signature.hex()
    return {"X-Signature-Ed25519": sig, "X-Signature-Timestamp": str(ts)}


cases(name, discord_sign, json.dumps({"type": 2, "id": uuid.uuid4().hex, "data": {"n": 1}}), flip)
ping = json.dumps({"type": 1, "id": "ping-1", "application_id": "app"})
send(name, "handshake PING", discord_sign(ping, NOW, True), ping, 200, expect_body={"type": 1})
send(name, "handshake PING badly signed", discord_sign(ping, NOW, False), ping, 401)

# --- Zoom: v0 HMAC over "v0:{ts}:{body}"; endpoint.url_validation answered with the encrypted token.
ZOOM = "zoom-secret-token"
name = component("zoom", config={"secret": ZOOM})


# Zoom's own Node SDK (@zoom/rivet) receives each signed request first: its answer must be 200
# (and, for the URL validation, is the body Onset must answer). Rivet re-serialises the JSON, so the
# bodies are compact.
ZOOM_RECEIVE = """
import { AwsLambdaReceiver } from '@zoom/rivet/users';
const [secret, body, signature, timestamp] = process.argv.slice(1);
const receiver = new AwsLambdaReceiver({ webhooksSecretToken: secret });
receiver.init({ eventEmitter: { emit: async () => {} } });
const answer = await receiver.start()({ body, isBase64Encoded: false,
  headers: { 'x-zm-signature': signature, 'x-zm-request-timestamp': timestamp } }, {});
console.log(JSON.stringify({ status: answer.statusCode, body: JSON.parse(answer.body) }));
"""


def zoom_receive(body, headers):
    out = node(ZOOM_RECEIVE, ZOOM, body, headers["x-zm-signature"], headers["x-zm-request-timestamp"])
    return json.loads(out.splitlines()[-1])  # rivet logs the event on stdout before


def zoom_sign(body, ts, good):
    sig = mac(ZOOM if good else "wrong", f"v0:{ts}:{body}").hex()
    headers = {"x-zm-signature": f"v0={sig}", "x-zm-request-timestamp": str(ts), "x-zm-trackingid": uuid.uuid4().hex}
    assert (zoom_receive(body, headers)["status"] == 200) == good
    return headers


def compact(value):
    return json.dumps(value, separators=(",", ":"))


cases(name, zoom_sign, compact({"event": "meeting.started", "payload": {"n": 1}}), flip)
plain = "qgg8vlvZRS6UYooatFL8Aw"
body = compact({"payload": {"plainToken": plain}, "event_ts": NOW * 1000, "event": "endpoint.url_validation"})
headers = zoom_sign(body, NOW, True)
answer = zoom_receive(body, headers)
assert answer["status"] == 200 and answer["body"]["encryptedToken"] == mac(ZOOM, plain).hex(), answer
send(name, "handshake url_validation", headers, body, 200, expect_body=answer["body"])

# --- Linear: HMAC of the body; the timestamp (ms) is the body's webhookTimestamp.
LINEAR = "lin_wh_secret"
name = component("linear", config={"secret": LINEAR})


def linear_body(ts):
    return json.dumps({"action": "create", "type": "Issue", "data": {"n": 1}, "webhookTimestamp": ts * 1000})


LINEAR_VERIFY = """
import { LinearWebhookClient } from '@linear/sdk/webhooks';
const [secret, body, signature] = process.argv.slice(1);
let valid;
try { valid = new LinearWebhookClient(secret).verify(Buffer.from(body), signature); } catch { valid = false; }
console.log(JSON.stringify(valid));
"""


def linear_sign(body, ts, good):
    signature = mac(LINEAR if good else "x", body).hex()
    # Linear's own SDK agrees: it accepts what is signed now and refuses a wrong key or a stale timestamp.
    assert node(LINEAR_VERIFY, LINEAR, body, signature) == ("true" if good and ts == NOW else "false")
    return {"Linear-Signature": signature, "Linear-Delivery": str(uuid.uuid4())}


send(name, "signed", linear_sign(linear_body(NOW), NOW, True), linear_body(NOW), 202)
send(name, "tampered body", linear_sign(linear_body(NOW), NOW, True), flip(linear_body(NOW)), 401)
send(name, "wrong key", linear_sign(linear_body(NOW), NOW, False), linear_body(NOW), 401)
send(name, "stale timestamp", linear_sign(linear_body(STALE), STALE, True), linear_body(STALE), 401)

# --- HubSpot v3: base64 HMAC of method + URL + body + timestamp (ms).
HUBSPOT = "hubspot-client-secret"
name = component("hubspot", config={"secret": HUBSPOT})


def hubspot_sign(body, ts, good):
    # hubspot-api-client's own signer (signature v3).
    from hubspot.utils.signature import Signature

    ms = str(ts * 1000)
    sig = Signature.get_signature(HUBSPOT if good else "x", body, "v3", http_uri=url_of("p-hubspot"),
                                  http_method="POST", timestamp=ms)
    return {"X-HubSpot-Signature-v3": sig, "X-HubSpot-Request-Timestamp": ms}


cases(name, hubspot_sign, json.dumps([{"eventId": 1, "subscriptionType": "contact.creation", "n": 1}]), flip)

# --- Square: base64 HMAC of notification URL + body.
SQUARE = "square-signature-key"
name = component("square", config={"secret": SQUARE})


def square_sign(body, ts, good):
    from square.utils.webhooks_helper import verify_signature

    signature = b64(mac(SQUARE if good else "x", url_of("p-square") + body))
    # Checked by Square's own SDK (squareup) first.
    assert verify_signature(request_body=body, signature_header=signature, signature_key=SQUARE,
                            notification_url=url_of("p-square")) == good
    return {"x-square-hmacsha256-signature": signature}


cases(name, square_sign, json.dumps({"event_id": str(uuid.uuid4()), "type": "payment.created", "data": {"n": 1}}), flip, stale=False)

# --- Calendly: t=…,v1=HMAC of "{t}.{body}", 3 min tolerance.
CALENDLY = "calendly-signing-key"
name = component("calendly", config={"secret": CALENDLY})
cases(name, lambda body, ts, good: {"Calendly-Webhook-Signature": f"t={ts},v1={mac(CALENDLY if good else 'x', f'{ts}.{body}').hex()}"},
      json.dumps({"event": "invitee.created", "payload": {"n": 1}}), flip)

# --- Contentful: HMAC of method, path, the signed headers and body, as the apps toolkit builds it.
CONTENTFUL = ("contentful-signing-secret-" + "0123456789abcdef" * 4)[:64]  # the toolkit wants 64 characters
name = component("contentful", config={"secret": CONTENTFUL})


CONTENTFUL_SIGN = """
import { signRequest } from '@contentful/node-apps-toolkit';
const [secret, path, body, ms] = process.argv.slice(1);
const canonical = { method: 'POST', path, headers: { 'Content-Type': 'application/json' }, body };
console.log(JSON.stringify(signRequest(secret, canonical, Number(ms))));
"""


def contentful_sign(body, ts, good):
    # Signed by Contentful's own apps toolkit, the content type among the signed headers.
    key = CONTENTFUL if good else CONTENTFUL[::-1]
    return json.loads(node(CONTENTFUL_SIGN, key, f"/hooks/development/{name}", body, str(ts * 1000)))


cases(name, contentful_sign, json.dumps({"sys": {"id": "e1"}, "fields": {"n": 1}}), flip)

# --- Twitch EventSub: HMAC of id + timestamp (RFC 3339) + body; the verification challenge answered.
TWITCH = "twitch-eventsub-secret"
name = component("twitch", config={"secret": TWITCH})


def twitch_sign(body, ts, good, kind="notification"):
    msg_id = str(uuid.uuid4())
    stamp = datetime.datetime.fromtimestamp(ts, tz=datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.123456789Z")
    sig = mac(TWITCH if good else "x", msg_id + stamp + body).hex()
    return {"Twitch-Eventsub-Message-Id": msg_id, "Twitch-Eventsub-Message-Timestamp": stamp,
            "Twitch-Eventsub-Message-Signature": f"sha256={sig}", "Twitch-Eventsub-Message-Type": kind}


cases(name, twitch_sign, json.dumps({"subscription": {"type": "channel.follow"}, "event": {"n": 1}}), flip)
body = json.dumps({"challenge": "pogchamp-kappa-360noscope-vohiyo", "subscription": {"type": "channel.follow"}})
send(name, "handshake webhook_callback_verification", twitch_sign(body, NOW, True, "webhook_callback_verification"),
     body, 200, expect_body="pogchamp-kappa-360noscope-vohiyo")

# --- Trello: base64 HMAC-SHA1 of body + callback URL; HEAD answered.
TRELLO = "trello-app-secret"
name = component("trello", config={"secret": TRELLO})
cases(name, lambda body, ts, good: {"X-Trello-Webhook": b64(mac(TRELLO if good else "x", body + url_of("p-trello"), hashlib.sha1))},
      json.dumps({"action": {"type": "createCard"}, "model": {"n": 1}}), flip, stale=False)
send(name, "handshake HEAD", {}, "", 200, method="HEAD", content_type=None)

# --- Asana: X-Hook-Secret echoed and kept; then deliveries signed with it.
name = component("asana", verify={"preset": "asana"})
send(name, "signed before the handshake", {"X-Hook-Signature": mac("asana-hook-secret", "{}").hex()}, "{}", 401)
send(name, "handshake X-Hook-Secret", {"X-Hook-Secret": "asana-hook-secret"}, "", 200, expect_body="")
body = json.dumps({"events": [{"action": "changed", "n": 1}]})
send(name, "signed", {"X-Hook-Signature": mac("asana-hook-secret", body).hex()}, body, 202)
send(name, "tampered body", {"X-Hook-Signature": mac("asana-hook-secret", body).hex()}, flip(body), 401)
send(name, "wrong key", {"X-Hook-Signature": mac("other", body).hex()}, body, 401)
send(name, "second handshake in the same deployment", {"X-Hook-Secret": "attacker"}, "", 409)

# --- GET handshakes: Meta / WhatsApp / WebSub hub.challenge, X CRC, Okta.
for preset, token in [("meta", "meta-verify-token"), ("whatsapp", "wa-verify-token")]:
    send(f"p-{preset}", "handshake hub.challenge", {}, "", 200, method="GET",
         query=f"hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={token}", expect_body="1158201444",
         content_type=None)
    send(f"p-{preset}", "handshake with a wrong verify_token", {}, "", 401, method="GET",
         query="hub.mode=subscribe&hub.challenge=1&hub.verify_token=guess", content_type=None)
send("p-websub", "handshake hub.challenge", {}, "", 200, method="GET",
     query="hub.mode=subscribe&hub.topic=https%3A%2F%2Fexample.com%2Ffeed&hub.challenge=kxh3&hub.lease_seconds=86400",
     expect_body="kxh3", content_type=None)
send("p-x", "handshake CRC", {}, "", 200, method="GET", query="crc_token=9b4507b3",
     expect_body={"response_token": "sha256=" + b64(mac("x-consumer-secret", "9b4507b3"))}, content_type=None)
send("p-okta", "handshake verification", {"X-Okta-Verification-Challenge": "7pMjvHZr2oY9dDsfiKqQ"}, "", 200,
     method="GET", expect_body={"verification": "7pMjvHZr2oY9dDsfiKqQ"}, content_type=None)

# --- A generic scheme: RSA-SHA256 over "{timestamp}.{body}" with a PEM public key (cryptography).
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_OTHER = rsa.generate_private_key(public_exponent=65537, key_size=2048)
pem = RSA.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
name = component("custom", name="p-custom-rsa", verify={
    "scheme": "signature", "algorithm": "rsa-sha256", "public_key": pem,
    "signature": {"header": "X-Signature", "encoding": "base64"},
    "timestamp": {"header": "X-Timestamp", "format": "rfc3339", "tolerance": "5m"},
    "signed": "{timestamp}.{body}", "id": {"header": "X-Id"},
})


def rsa_sign(body, ts, good):
    stamp = datetime.datetime.fromtimestamp(ts, tz=datetime.timezone.utc).isoformat()
    sig = (RSA if good else RSA_OTHER).sign(f"{stamp}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return {"X-Signature": b64(sig), "X-Timestamp": stamp, "X-Id": uuid.uuid4().hex}


cases(name, rsa_sign, json_body(), flip)

# --- Paddle: ts=…;h1=HMAC of "{ts}:{body}", 5 s tolerance (last, so that it is sent within 5 s).
PADDLE = "pdl_ntfset_secret"
name = component("paddle", config={"secret": PADDLE})


def paddle_sign(body, ts, good):
    header = f"ts={ts};h1={mac(PADDLE if good else 'x', f'{ts}:{body}').hex()}"
    if good and ts >= NOW:
        # Checked by paddle-python-sdk's own verifier first.
        from paddle_billing.Notifications import Secret as PaddleSecret, Verifier as PaddleVerifier

        class Signed:
            def __init__(self, headers, raw):
                self.headers, self.body = headers, raw

        assert PaddleVerifier().verify(Signed({"Paddle-Signature": header}, body.encode()), PaddleSecret(PADDLE))
    return {"Paddle-Signature": header}


cases(name, paddle_sign,
      json.dumps({"event_id": "evt_" + uuid.uuid4().hex, "event_type": "transaction.paid", "data": {"n": 1}}), flip)

print(json.dumps({"components": components, "requests": requests}))
