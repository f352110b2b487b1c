"""Functions behind the non-proxy (custom) Lambda integrations of template.yaml."""
import json
import time
import urllib.request


def calc(event, context):
    """The event is what the request template built from $input.params() and $input.json('$')."""
    body = event["body"]
    if event["op"] == "add":
        return {"sum": body["a"] + body["b"], "who": event["who"], "query": event["query"]}
    if event["op"] == "bad":
        raise ValueError("Bad: " + body.get("why", "no reason"))
    raise RuntimeError("boom")


def worker(event, context):
    """Invoked with X-Amz-Invocation-Type: Event; reports to the test's listener later."""
    time.sleep(2)
    job = event["job"]
    data = json.dumps(event).encode()
    req = urllib.request.Request(job["callback"], data=data, method="POST",
                                 headers={"content-type": "application/json"})
    urllib.request.urlopen(req, timeout=10).read()
    return {"done": True}
