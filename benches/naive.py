"""The script retainctl replaces: Apple's library, one upload at a time, then the defaults.
naive.py URL KEY_FILE MESSAGES LOCALES"""
import sys
import uuid

from appstoreserverlibrary.api_client import AppStoreServerAPIClient
from appstoreserverlibrary.models.DefaultConfigurationRequest import DefaultConfigurationRequest
from appstoreserverlibrary.models.Environment import Environment
from appstoreserverlibrary.models.UploadMessageRequestBody import UploadMessageRequestBody

LOCALES = ["en-US", "de-DE", "fr-FR", "es-ES", "it", "ja", "ko", "pt-BR", "nl-NL", "sv"]
url, key_file, messages, locales = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
client = AppStoreServerAPIClient(open(key_file, "rb").read(), "BENCHKEY01", "bench", "com.bench.one0", Environment.PRODUCTION)
client._base_url = url
first = {}
for m in range(messages):
    for l in LOCALES[:locales]:
        mid = uuid.uuid4()
        client.upload_message(mid, UploadMessageRequestBody(header=f"Stay {m} {l}", body=f"Keep your plan number {m} of app 0."))
        if m == 0:
            first[l] = mid
client.get_message_list()  # lets the simulator's review delay approve them
for l, mid in first.items():
    client.configure_default_message("p.monthly", l, DefaultConfigurationRequest(messageIdentifier=mid))
