"""Apple's own client library (app-store-server-library) against `retainctl sim`.

Run by tests/it/apple_library.rs with: SIM_URL, SIM_MODE (sandbox|production), KEY_FILE
(PKCS#8 P-256 PEM), BUNDLE_ID. The client is used unchanged except for its base URL.
Prints one line per check and "N passed, 0 failed" at the end; exits 1 on a failure.
"""
import http.server
import json
import os
import struct
import sys
import threading
import time
import urllib.request
import uuid
import zlib

from appstoreserverlibrary.api_client import APIError, APIException, AppStoreServerAPIClient
from appstoreserverlibrary.models.BulletPoint import BulletPoint
from appstoreserverlibrary.models.DefaultConfigurationRequest import DefaultConfigurationRequest
from appstoreserverlibrary.models.Environment import Environment
from appstoreserverlibrary.models.ImageSize import ImageSize
from appstoreserverlibrary.models.ImageState import ImageState
from appstoreserverlibrary.models.MessageState import MessageState
from appstoreserverlibrary.models.NotificationHistoryRequest import NotificationHistoryRequest
from appstoreserverlibrary.models.PerformanceTestRequest import PerformanceTestRequest
from appstoreserverlibrary.models.RealtimeUrlRequest import RealtimeUrlRequest
from appstoreserverlibrary.models.UploadMessageImage import UploadMessageImage
from appstoreserverlibrary.models.UploadMessageRequestBody import UploadMessageRequestBody
from appstoreserverlibrary.signed_data_verifier import SignedDataVerifier

SIM_URL = os.environ["SIM_URL"]
MODE = os.environ["SIM_MODE"]
BUNDLE_ID = os.environ["BUNDLE_ID"]
with open(os.environ["KEY_FILE"], "rb") as f:
    KEY = f.read()

client = AppStoreServerAPIClient(KEY, "KEYID12345", "57246542-96fe-1a63-e053-0824d011072a", BUNDLE_ID, Environment.SANDBOX)
client._base_url = SIM_URL  # the only change: where the requests go

passed = 0
failed = 0


def check(name, condition, detail=""):
    global passed, failed
    if condition:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


def expect_error(name, error, call):
    try:
        call()
    except APIException as e:
        check(name, e.api_error == error, f"got {e.http_status_code} {e.raw_api_error} {e.error_message}")
        return
    check(name, False, "no error raised")


def png(width, height):
    raw = b"".join(b"\x00" + b"\x30\x60\x90" * width for _ in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def review(ids):
    request = urllib.request.Request(
        SIM_URL + "/_sim/review",
        data=json.dumps({"approve": [str(i) for i in ids]}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request).read()


# A realtime server (sandbox): verifies each request with Apple's SignedDataVerifier,
# trusting the simulator's root, and answers REALTIME_ANSWER's message.
REALTIME_ANSWER = {"message": None}
REALTIME_SEEN = []
REALTIME_ERRORS = []
ROOT_PEM = urllib.request.urlopen(SIM_URL + "/_sim/realtime-root").read().decode()
ROOT_DER = __import__("ssl").PEM_cert_to_DER_cert(ROOT_PEM)


class Realtime(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        try:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            payload = body["signedPayload"]
            decoded = json.loads(__import__("base64").urlsafe_b64decode(payload.split(".")[1] + "=="))
            verifier = SignedDataVerifier([ROOT_DER], False, Environment.SANDBOX, BUNDLE_ID, decoded.get("appAppleId"))
            REALTIME_SEEN.append(verifier.verify_and_decode_realtime_request(payload))
        except Exception as e:  # recorded, and answered as a server error
            REALTIME_ERRORS.append(repr(e) + ' from ' + repr(e.__cause__) + ' ' + repr(getattr(e.__cause__, '__cause__', None)))
            self.send_response(500)
            self.end_headers()
            return
        answer = json.dumps({"message": {"messageIdentifier": REALTIME_ANSWER["message"]}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


if MODE == "sandbox":
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Realtime)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    os.environ["REALTIME_URL"] = f"http://127.0.0.1:{server.server_address[1]}/apple/retention"

pending = MessageState.PENDING if MODE == "production" else MessageState.APPROVED
image_pending = ImageState.PENDING if MODE == "production" else ImageState.APPROVED

hero = uuid.uuid4()
icon = uuid.uuid4()
client.upload_image(hero, png(3840, 160), ImageSize.FULL_SIZE)
client.upload_image(icon, png(1024, 1024), ImageSize.BULLET_POINT)
images = {str(i.imageIdentifier): i.imageState for i in client.get_image_list().imageIdentifiers}
check("upload_image + get_image_list", images.get(str(hero)) == image_pending and str(icon) in images, images)
sizes = {str(i.imageIdentifier): i.imageSize for i in client.get_image_list().imageIdentifiers}
check("get_image_list carries imageSize (API 1.4)", sizes.get(str(hero)) == ImageSize.FULL_SIZE and sizes.get(str(icon)) == ImageSize.BULLET_POINT, sizes)
expect_error("ImageAlreadyExists", APIError.IMAGE_ALREADY_EXISTS, lambda: client.upload_image(hero, png(3840, 160), ImageSize.FULL_SIZE))
expect_error("InvalidImage", APIError.INVALID_IMAGE, lambda: client.upload_image(uuid.uuid4(), b"not a png"))
expect_error("BadRequestImageSize", APIError.BAD_REQUEST_IMAGE_SIZE, lambda: client.upload_image(uuid.uuid4(), png(100, 100), ImageSize.BULLET_POINT))

message = uuid.uuid4()
body = UploadMessageRequestBody(
    header="Stay with Premium",
    body="Keep your plan.",
    image=UploadMessageImage(imageIdentifier=hero, altText="a person"),
    bulletPoints=[BulletPoint(text="Unlimited projects", imageIdentifier=icon, altText="check")],
)
client.upload_message(message, body)
messages = {str(m.messageIdentifier): m.messageState for m in client.get_message_list().messageIdentifiers}
check("upload_message + get_message_list", messages.get(str(message)) == pending, messages)
expect_error("MessageAlreadyExists", APIError.MESSAGE_ALREADY_EXISTS, lambda: client.upload_message(message, body))
too_long = UploadMessageRequestBody(header="h", body="b")
object.__setattr__(too_long, "header", "h" * 67)  # past the library's own validator, to reach the server's check
expect_error("HeaderTooLong", APIError.HEADER_TOO_LONG, lambda: client.upload_message(uuid.uuid4(), too_long))
expect_error(
    "ImageNotFound (message refers to a missing image)",
    APIError.IMAGE_NOT_FOUND,
    lambda: client.upload_message(uuid.uuid4(), UploadMessageRequestBody(header="h", body="b", image=UploadMessageImage(imageIdentifier=uuid.uuid4(), altText="x"))),
)

expect_error("DefaultMessageNotFound", APIError.DEFAULT_MESSAGE_NOT_FOUND, lambda: client.get_default_message("premium", "en-US"))
expect_error("InvalidLocale", APIError.INVALID_LOCALE, lambda: client.configure_default_message("premium", "en_US", DefaultConfigurationRequest(messageIdentifier=message)))
if MODE == "production":
    expect_error("MessageNotApproved", APIError.MESSAGE_NOT_APPROVED, lambda: client.configure_default_message("premium", "en-US", DefaultConfigurationRequest(messageIdentifier=message)))
    review([message])
    expect_error("ImageNotApproved", APIError.IMAGE_NOT_APPROVED, lambda: client.configure_default_message("premium", "en-US", DefaultConfigurationRequest(messageIdentifier=message)))
    review([hero, icon])
client.configure_default_message("premium", "en-US", DefaultConfigurationRequest(messageIdentifier=message))
got = client.get_default_message("premium", "en-US")
check("configure + get default", str(got.messageIdentifier) == str(message), got)
expect_error("ImageInUse", APIError.IMAGE_IN_USE, lambda: client.delete_image(hero))
client.delete_default_message("premium", "en-US")
expect_error("DefaultMessageNotFound after delete", APIError.DEFAULT_MESSAGE_NOT_FOUND, lambda: client.delete_default_message("premium", "en-US"))

expect_error("RealtimeUrlNotFound", APIError.REALTIME_URL_NOT_FOUND, lambda: client.get_realtime_url())
expect_error("BadRequestRealtimeUrl", APIError.BAD_REQUEST_REALTIME_URL, lambda: client.configure_realtime_url(RealtimeUrlRequest(realtimeURL="http://insecure.example.com")))
url = os.environ["REALTIME_URL"]
if MODE == "production":
    expect_error("ForbiddenNoPassingTest", APIError.FORBIDDEN_NO_PASSING_TEST, lambda: client.configure_realtime_url(RealtimeUrlRequest(realtimeURL=url)))
    expect_error(
        "performance test is sandbox only",
        APIError.INVALID_PERFORMANCE_TEST_REQUEST,
        lambda: client.initiate_performance_test(PerformanceTestRequest(originalTransactionId="2000000123456789")),
    )
else:
    client.configure_realtime_url(RealtimeUrlRequest(realtimeURL=url))
    check("configure + get realtime URL", client.get_realtime_url().realtimeURL == url)
    REALTIME_ANSWER["message"] = str(message)
    test = client.initiate_performance_test(PerformanceTestRequest(originalTransactionId="2000000123456789"))
    check("initiate_performance_test answers a config", test.config.totalRequests > 0 and test.requestId, test)
    expect_error(
        "ExistingPerformanceTestRun while one runs",
        APIError.EXISTING_PERFORMANCE_TEST_RUN,
        lambda: client.initiate_performance_test(PerformanceTestRequest(originalTransactionId="2000000123456789")),
    )
    result = client.get_performance_test_results(test.requestId)
    deadline = time.time() + 60
    while result.result.value == "PENDING" and time.time() < deadline:
        time.sleep(0.2)
        result = client.get_performance_test_results(test.requestId)
    check(
        "performance test: realtime requests verified by SignedDataVerifier, PASS with Apple's fields",
        result.result.value == "PASS"
        and result.target == url
        and result.successRate == 100
        and result.numPending == 0
        and result.responseTimes is not None
        and result.responseTimes.p99 >= result.responseTimes.p50
        and result.rawFailures == {}
        and len(REALTIME_SEEN) == test.config.totalRequests
        and not REALTIME_ERRORS,
        (result, REALTIME_ERRORS[:3], len(REALTIME_SEEN)),
    )
    check(
        "realtime requests carry DecodedRealtimeRequestBody's fields",
        all(
            r.originalTransactionId == "2000000123456789"
            and r.productId == "premium"
            and r.userLocale == "en-US"
            and r.environment == Environment.SANDBOX
            and r.requestIdentifier
            and r.signedDate
            for r in REALTIME_SEEN
        ),
        REALTIME_SEEN[:1],
    )
    expect_error(
        "PerformanceTestRunNotFound",
        APIError.PERFORMANCE_TEST_RUN_NOT_FOUND,
        lambda: client.get_performance_test_results(str(uuid.uuid4())),
    )
    REALTIME_ANSWER["message"] = str(uuid.uuid4())
    test = client.initiate_performance_test(PerformanceTestRequest(originalTransactionId="2000000123456789"))
    result = client.get_performance_test_results(test.requestId)
    while result.result.value == "PENDING" and time.time() < deadline:
        time.sleep(0.2)
        result = client.get_performance_test_results(test.requestId)
    check(
        "performance test FAILs with INVALID_RESPONSE for an unknown message",
        result.result.value == "FAIL" and result.rawFailures.get("INVALID_RESPONSE") == test.config.totalRequests,
        result,
    )
    client.delete_realtime_url()
    expect_error("RealtimeUrlNotFound after delete", APIError.REALTIME_URL_NOT_FOUND, lambda: client.delete_realtime_url())

client.delete_message(message)
expect_error("MessageNotFound", APIError.MESSAGE_NOT_FOUND, lambda: client.delete_message(message))
client.delete_image(hero)
expect_error("ImageNotFound", APIError.IMAGE_NOT_FOUND, lambda: client.delete_image(hero))
check("lists after deletes", str(message) not in {str(m.messageIdentifier) for m in client.get_message_list().messageIdentifiers})

# Get Notification History: the simulator's notifications V2, 20 a page, each verified by
# Apple's SignedDataVerifier as notifications are.
events = [
    {"notificationType": "DID_CHANGE_RENEWAL_STATUS", "subtype": "AUTO_RENEW_DISABLED",
     "originalTransactionId": f"2000000000{i:06d}", "productId": "premium"}
    for i in range(45)
]
request = urllib.request.Request(
    SIM_URL + "/_sim/notifications",
    data=json.dumps({"bundleId": BUNDLE_ID, "events": events}).encode(),
    headers={"content-type": "application/json"},
)
urllib.request.urlopen(request).read()
now = int(time.time() * 1000)
history_request = NotificationHistoryRequest(startDate=now - 86_400_000, endDate=now + 60_000)
pages, seen, token = 0, [], None
while True:
    page = client.get_notification_history(token, history_request)
    pages += 1
    seen.extend(page.notificationHistory)
    if not page.hasMore:
        break
    token = page.paginationToken
check("get_notification_history pages 20 at a time", pages == 3 and len(seen) == 45, (pages, len(seen)))
environment = Environment.SANDBOX if MODE == "sandbox" else Environment.PRODUCTION
decoded_first = json.loads(__import__("base64").urlsafe_b64decode(seen[0].signedPayload.split(".")[1] + "=="))
verifier = SignedDataVerifier([ROOT_DER], False, environment, BUNDLE_ID, decoded_first["data"]["appAppleId"])
notification = verifier.verify_and_decode_notification(seen[0].signedPayload)
transaction = verifier.verify_and_decode_signed_transaction(notification.data.signedTransactionInfo)
renewal = verifier.verify_and_decode_renewal_info(notification.data.signedRenewalInfo)
check(
    "verify_and_decode_notification and its transaction and renewal",
    notification.rawNotificationType == "DID_CHANGE_RENEWAL_STATUS"
    and notification.rawSubtype == "AUTO_RENEW_DISABLED"
    and transaction.originalTransactionId == renewal.originalTransactionId == "2000000000000000",
    notification,
)
expect_error(
    "StartDateTooFarInPast",
    APIError.START_DATE_TOO_FAR_IN_PAST,
    lambda: client.get_notification_history(None, NotificationHistoryRequest(startDate=now - 200 * 86_400_000, endDate=now)),
)
expect_error(
    "InvalidPaginationToken",
    APIError.INVALID_PAGINATION_TOKEN,
    lambda: client.get_notification_history("not-a-token", history_request),
)

wrong = AppStoreServerAPIClient(KEY, "KEYID12345", "issuer", "com.wrong.bundle", Environment.SANDBOX)
wrong._base_url = SIM_URL
try:
    wrong.get_image_list()
    check("401 for a wrong bundle id", False)
except APIException as e:
    check("401 for a wrong bundle id", e.http_status_code == 401 and e.raw_api_error is None, e)

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
