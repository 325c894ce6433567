"""Our promotionalOfferSignatureV2 beside Apple's own: PromotionalOfferV2SignatureCreator
(app-store-server-library) signs the same offer with the same key, then both are read with
PyJWT: ours must verify with the public key (audience "promotional-offer", ES256) and carry
the same header fields and the same claims, of the same types, as Apple's.

Environment: OURS (the JWS from retainctl serve), KEY_FILE (the private key, PEM),
PUBLIC_KEY_FILE, KEY_ID, ISSUER_ID, BUNDLE_ID, PRODUCT_ID, OFFER_ID, TRANSACTION_ID.
"""

import os
import sys

import jwt
from appstoreserverlibrary.jws_signature_creator import PromotionalOfferV2SignatureCreator

env = os.environ
with open(env["KEY_FILE"], "rb") as f:
    private_key = f.read()
with open(env["PUBLIC_KEY_FILE"], "rb") as f:
    public_key = f.read()

apple = PromotionalOfferV2SignatureCreator(
    private_key, env["KEY_ID"], env["ISSUER_ID"], env["BUNDLE_ID"]
).create_signature(env["PRODUCT_ID"], env["OFFER_ID"], env["TRANSACTION_ID"])
ours = env["OURS"]

failures = []


def read(token):
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(
        token, public_key, algorithms=["ES256"], audience="promotional-offer"
    )
    return header, claims


try:
    our_header, our_claims = read(ours)
except Exception as e:  # noqa: BLE001 - the reason is the report
    print(f"our signature does not verify: {e!r}")
    sys.exit(1)
apple_header, apple_claims = read(apple)

if our_header != apple_header:
    failures.append(f"header {our_header} != Apple's {apple_header}")
if set(our_claims) != set(apple_claims):
    failures.append(f"claims {sorted(our_claims)} != Apple's {sorted(apple_claims)}")
for name, value in apple_claims.items():
    mine = our_claims.get(name)
    if type(mine) is not type(value):
        failures.append(f"claim {name}: {type(mine).__name__} != Apple's {type(value).__name__}")
    elif name not in ("iat", "nonce") and mine != value:
        failures.append(f"claim {name}: {mine!r} != Apple's {value!r}")
if abs(our_claims["iat"] - apple_claims["iat"]) > 300:
    failures.append("iat is not now")

for f in failures:
    print(f)
if failures:
    sys.exit(1)
print(f"ok: same header {sorted(apple_header)} and claims {sorted(apple_claims)}")
