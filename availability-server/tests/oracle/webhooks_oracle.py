"""Verifies webhook deliveries with the Standard Webhooks reference library.

Reads {"secret": "whsec_...", "messages": [{"headers": {...}, "body": "..."}]} on stdin and
prints, per message, {"ok": true, "payload": ...} or {"ok": false, "error": "..."}: the
library's verdict and what it parsed, never our own idea of a signature.
"""

import json
import sys

from standardwebhooks.webhooks import Webhook

request = json.load(sys.stdin)
hook = Webhook(request["secret"])
out = []
for message in request["messages"]:
    try:
        payload = hook.verify(message["body"], message["headers"])
        out.append({"ok": True, "payload": payload})
    except Exception as e:  # the library's verdict, whatever its class
        out.append({"ok": False, "error": f"{type(e).__name__}: {e}"})
json.dump(out, sys.stdout)
