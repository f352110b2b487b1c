"""Drives a running ledge through boto3 (and the AWS CLI) exactly as users would.

Run by crates/cli/tests/lambda_api.rs: `python3 scenario.py STEP` with LEDGE_ENDPOINT,
LEDGE_STATE_DIR and LEDGE_BIN set. Every check is an assert; exit 0 means it all held.
"""

import base64
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
import zipfile

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT = os.environ["LEDGE_ENDPOINT"]
STATE_DIR = os.environ["LEDGE_STATE_DIR"]
LEDGE = os.environ["LEDGE_BIN"]
ROLE = "arn:aws:iam::123456789012:role/lambda-role"
RUNTIME = "python3.12"


def client(key="AKIDLEDGETEST", secret="secret"):
    return boto3.client(
        "lambda",
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(retries={"total_max_attempts": 1}, read_timeout=120),
    )


def zip_of(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, body in files.items():
            z.writestr(name, body)
    return buf.getvalue()


def handler_zip(version):
    return zip_of({"app.py": f"""
import os
def handler(event, context):
    try:
        import greeting_layer
        layer = greeting_layer.GREETING
    except ImportError:
        layer = None
    return {{"code": {version}, "version": context.function_version,
            "env": os.environ.get("GREETING"), "layer": layer, "event": event}}
"""})


def sha(b):
    return base64.b64encode(hashlib.sha256(b).digest()).decode()


def error_code(e):
    return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]


def expect(exc_class, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except exc_class as e:
        return e
    raise AssertionError(f"{fn.__name__} did not raise {exc_class}")


def invoke_json(c, **kwargs):
    r = c.invoke(**kwargs)
    assert r["StatusCode"] == 200, r
    return r, json.loads(r["Payload"].read())


def log_of(name):
    path = os.path.join(STATE_DIR, "logs", f"{name}.log")
    return open(path).read() if os.path.exists(path) else ""


def wait_until(what, cond, secs=60):
    end = time.time() + secs
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def dlq(name):
    out = subprocess.run([LEDGE, "dlq", name, "--state-dir", STATE_DIR],
                         capture_output=True, text=True, check=True).stdout
    return [json.loads(l) for l in out.splitlines() if l.strip()]


def create(c, name, code=None, **kw):
    return c.create_function(FunctionName=name, Runtime=RUNTIME, Role=ROLE,
                             Handler="app.handler", Code={"ZipFile": code or handler_zip(1)},
                             Timeout=10, **kw)


# --------------------------------------------------------------------------- steps

def lifecycle():
    c = client()
    code1 = handler_zip(1)
    created = create(c, "hello", code1, MemorySize=256, Environment={"Variables": {"GREETING": "hi"}},
                     Architectures=["x86_64"], EphemeralStorage={"Size": 512},
                     Description="first")
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["State"] == "Pending" and created["Version"] == "$LATEST", created
    assert created["CodeSha256"] == sha(code1)
    assert created["CodeSize"] == len(code1)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", created["LastModified"])
    assert re.fullmatch(r"[0-9a-f-]{36}", created["RevisionId"])
    assert created["FunctionArn"] == "arn:aws:lambda:us-east-1:123456789012:function:hello"
    assert created["MemorySize"] == 256 and created["Environment"]["Variables"] == {"GREETING": "hi"}
    c.get_waiter("function_active_v2").wait(FunctionName="hello")
    got = c.get_function(FunctionName="hello")
    assert got["Configuration"]["State"] == "Active"
    assert got["Configuration"]["LastUpdateStatus"] == "Successful"
    zipped = urllib.request.urlopen(got["Code"]["Location"]).read()
    assert sha(zipped) == created["CodeSha256"], "Code.Location serves the uploaded zip"

    r, p = invoke_json(c, FunctionName="hello", Payload=b'{"n": 1}', LogType="Tail")
    assert p["code"] == 1 and p["env"] == "hi" and p["event"] == {"n": 1}, p
    assert r["ExecutedVersion"] == "$LATEST"
    tail = base64.b64decode(r["LogResult"]).decode()
    assert "START RequestId:" in tail and "REPORT RequestId:" in tail, tail

    # Update the code; a stale RevisionId is refused first.
    e = expect(c.exceptions.PreconditionFailedException, c.update_function_code,
               FunctionName="hello", ZipFile=handler_zip(2), RevisionId="stale")
    assert "Revision Id provided does not match" in str(e)
    code2 = handler_zip(2)
    upd = c.update_function_code(FunctionName="hello", ZipFile=code2,
                                 RevisionId=got["Configuration"]["RevisionId"])
    assert upd["LastUpdateStatus"] == "InProgress" and upd["CodeSha256"] == sha(code2)
    assert upd["RevisionId"] != got["Configuration"]["RevisionId"]
    c.get_waiter("function_updated_v2").wait(FunctionName="hello")
    _, p = invoke_json(c, FunctionName="hello", Payload=b"{}")
    assert p["code"] == 2, p

    # Versions.
    v1 = c.publish_version(FunctionName="hello", Description="v1")
    assert v1["Version"] == "1" and v1["FunctionArn"].endswith(":hello:1"), v1
    assert c.publish_version(FunctionName="hello")["Version"] == "1", "unchanged: no new version"
    c.get_waiter("published_version_active").wait(FunctionName="hello", Qualifier="1")
    r, p = invoke_json(c, FunctionName="hello", Qualifier="1", Payload=b"{}")
    assert r["ExecutedVersion"] == "1" and p["version"] == "1" and p["code"] == 2, (r, p)

    # Aliases.
    alias = c.create_alias(FunctionName="hello", Name="live", FunctionVersion="1", Description="prod")
    assert alias["AliasArn"].endswith(":function:hello:live")
    e = expect(c.exceptions.ResourceConflictException, c.create_alias,
               FunctionName="hello", Name="live", FunctionVersion="1")
    r, p = invoke_json(c, FunctionName="hello:live", Payload=b"{}")
    assert r["ExecutedVersion"] == "1", r

    # Layers.
    layer_zip = zip_of({"python/greeting_layer.py": "GREETING = 'from-layer'\n"})
    lv = c.publish_layer_version(LayerName="greet", Content={"ZipFile": layer_zip},
                                 CompatibleRuntimes=[RUNTIME], CompatibleArchitectures=["x86_64"],
                                 Description="greetings")
    assert lv["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert lv["Version"] >= 1 and lv["LayerVersionArn"].endswith(f":layer:greet:{lv['Version']}")
    assert lv["Content"]["CodeSha256"] == sha(layer_zip)
    assert c.get_layer_version(LayerName="greet", VersionNumber=lv["Version"])["LayerArn"] == lv["LayerArn"]
    assert c.get_layer_version_by_arn(Arn=lv["LayerVersionArn"])["Version"] == lv["Version"]
    assert any(l["LayerName"] == "greet" for l in c.list_layers()["Layers"])
    assert c.list_layer_versions(LayerName="greet")["LayerVersions"][0]["Version"] == lv["Version"]
    e = expect(c.exceptions.ResourceNotFoundException, c.get_layer_version,
               LayerName="greet", VersionNumber=999)

    cfg = c.update_function_configuration(FunctionName="hello", Layers=[lv["LayerVersionArn"]],
                                          Environment={"Variables": {"GREETING": "hey"}},
                                          MemorySize=512)
    assert cfg["Layers"][0]["Arn"] == lv["LayerVersionArn"] and cfg["MemorySize"] == 512
    c.get_waiter("function_updated_v2").wait(FunctionName="hello")
    _, p = invoke_json(c, FunctionName="hello", Payload=b"{}")
    assert p["layer"] == "from-layer" and p["env"] == "hey", p
    _, p = invoke_json(c, FunctionName="hello", Qualifier="1", Payload=b"{}")
    assert p["layer"] is None and p["env"] == "hi", "version 1 is an immutable snapshot"

    # Weighted alias: version 2 gets half the traffic.
    v2 = c.publish_version(FunctionName="hello")
    assert v2["Version"] == "2"
    c.update_alias(FunctionName="hello", Name="live",
                   RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
    seen = {c.invoke(FunctionName="hello", Qualifier="live", Payload=b"{}")["ExecutedVersion"]
            for _ in range(30)}
    assert seen == {"1", "2"}, seen
    got_alias = c.get_alias(FunctionName="hello", Name="live")
    assert got_alias["RoutingConfig"]["AdditionalVersionWeights"] == {"2": 0.5}
    assert [a["Name"] for a in c.list_aliases(FunctionName="hello")["Aliases"]] == ["live"]
    versions = [v["Version"] for v in c.list_versions_by_function(FunctionName="hello")["Versions"]]
    assert versions == ["$LATEST", "1", "2"], versions
    assert c.get_function_configuration(FunctionName="hello", Qualifier="1")["MemorySize"] == 256

    # Concurrency.
    assert c.put_function_concurrency(FunctionName="hello", ReservedConcurrentExecutions=5)[
        "ReservedConcurrentExecutions"] == 5
    assert c.get_function_concurrency(FunctionName="hello")["ReservedConcurrentExecutions"] == 5
    assert c.get_function(FunctionName="hello")["Concurrency"]["ReservedConcurrentExecutions"] == 5
    settings = c.get_account_settings()
    assert settings["AccountLimit"]["UnreservedConcurrentExecutions"] == \
        settings["AccountLimit"]["ConcurrentExecutions"] - 5
    e = expect(c.exceptions.InvalidParameterValueException, c.put_function_concurrency,
               FunctionName="hello", ReservedConcurrentExecutions=990)
    assert "below its minimum value of [100]" in str(e)
    c.put_function_concurrency(FunctionName="hello", ReservedConcurrentExecutions=0)
    e = expect(c.exceptions.TooManyRequestsException, c.invoke, FunctionName="hello", Payload=b"{}")
    assert e.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded", e.response
    assert error_code(e) == ("TooManyRequestsException", 429)
    c.delete_function_concurrency(FunctionName="hello")
    assert "ReservedConcurrentExecutions" not in c.get_function_concurrency(FunctionName="hello")

    # Listing with paging: MaxItems=2 pages through every function.
    for i in range(3):
        create(c, f"page-{i}")
    names, marker, pages = [], None, 0
    while True:
        kw = {"MaxItems": 2} if marker is None else {"MaxItems": 2, "Marker": marker}
        page = c.list_functions(**kw)
        pages += 1
        assert len(page["Functions"]) <= 2
        names += [f["FunctionName"] for f in page["Functions"]]
        marker = page.get("NextMarker")
        if not marker:
            break
    assert names == ["hello", "page-0", "page-1", "page-2"], names
    assert pages == 2
    paged = [f["FunctionName"] for p in c.get_paginator("list_functions").paginate(
        PaginationConfig={"PageSize": 3}) for f in p["Functions"]]
    assert paged == names
    everything = c.list_functions(FunctionVersion="ALL")["Functions"]
    assert [f["FunctionArn"].rsplit(":", 1)[1] for f in everything if f["FunctionName"] == "hello"] == \
        ["$LATEST", "1", "2"]

    # Delete: a routed version is protected; then the whole function goes.
    e = expect(c.exceptions.ResourceConflictException, c.delete_function, FunctionName="hello", Qualifier="2")
    e = expect(c.exceptions.InvalidParameterValueException, c.delete_function,
               FunctionName="hello", Qualifier="$LATEST")
    c.delete_function(FunctionName="hello")
    e = expect(c.exceptions.ResourceNotFoundException, c.get_function, FunctionName="hello")
    assert "Function not found: arn:aws:lambda:us-east-1:123456789012:function:hello" in str(e)
    e = expect(c.exceptions.ResourceNotFoundException, c.invoke, FunctionName="hello", Payload=b"{}")
    for i in range(3):
        c.delete_function(FunctionName=f"page-{i}")
    assert c.list_functions()["Functions"] == []
    c.delete_layer_version(LayerName="greet", VersionNumber=lv["Version"])
    c.delete_layer_version(LayerName="greet", VersionNumber=lv["Version"])  # idempotent
    print("lifecycle: ok")


def mangle_body(c, operation, change):
    """Sends `operation` with its JSON body rewritten: what a hand-written client might send."""
    def hook(request, **_):
        request.body = change(request.body)
        request.headers["Content-Length"] = str(len(request.body))
    c.meta.events.register(f"before-send.lambda.{operation}", hook)
    return hook


def bad_input():
    c = client()
    create(c, "good")

    # Malformed JSON and unknown members, refused before anything happens.
    raw = client()
    mangle_body(raw, "CreateFunction", lambda b: b[:-5] + b"{{{")
    e = expect(raw.exceptions.InvalidRequestContentException, create, raw, "bad-json")
    assert "Could not parse request body into json" in str(e)
    raw = client()
    mangle_body(raw, "CreateFunction", lambda b: json.dumps(dict(json.loads(b), Bogus=1)).encode())
    e = expect(raw.exceptions.InvalidRequestContentException, create, raw, "bad-field")
    assert 'Unrecognized field "Bogus"' in str(e)
    raw = client()
    mangle_body(raw, "UpdateFunctionConfiguration",
                lambda b: json.dumps(dict(json.loads(b), Timeout="ten")).encode())
    e = expect(raw.exceptions.InvalidRequestContentException, raw.update_function_configuration,
               FunctionName="good", Timeout=5)

    # A ZipFile that is not a zip.
    e = expect(c.exceptions.InvalidParameterValueException, create, c, "not-zip", b"this is not a zip")
    assert e.response["Error"]["Message"] == \
        "Could not unzip uploaded file. Please check your file, then try to upload again."
    e = expect(c.exceptions.InvalidParameterValueException, c.update_function_code,
               FunctionName="good", ZipFile=b"PK\x03\x04 broken")

    # A reserved environment key.
    e = expect(c.exceptions.InvalidParameterValueException, create, c, "reserved-env",
               Environment={"Variables": {"AWS_REGION": "eu-west-1"}})
    assert "reserved keys" in str(e) and "AWS_REGION" in str(e), str(e)

    # More than 5 layers; a memory size out of range; a runtime Lambda does not have.
    arns = [f"arn:aws:lambda:us-east-1:123456789012:layer:l{i}:1" for i in range(6)]
    e = expect(c.exceptions.InvalidParameterValueException, create, c, "six-layers", Layers=arns)
    assert "Cannot reference more than 5 layers." in str(e)
    e = expect(c.exceptions.InvalidParameterValueException, c.update_function_configuration,
               FunctionName="good", MemorySize=20000)
    assert "Member must have value less than or equal to 10240" in str(e)
    e = expect(c.exceptions.InvalidParameterValueException, c.create_function, FunctionName="bad-rt",
               Runtime="cobol85", Role=ROLE, Handler="a.b", Code={"ZipFile": handler_zip(1)})
    e = expect(c.exceptions.InvalidParameterValueException, c.create_function, FunctionName="bad-role",
               Runtime=RUNTIME, Role="not-a-role", Handler="a.b", Code={"ZipFile": handler_zip(1)})

    # Oversized payloads.
    e = expect(ClientError, c.invoke, FunctionName="good", Payload=b'"' + b"x" * (6 * 1024 * 1024) + b'"')
    assert error_code(e) == ("RequestEntityTooLargeException", 413), e.response
    assert "Request must be smaller than 6291456 bytes for the InvokeFunction operation" in str(e)
    e = expect(ClientError, c.invoke, FunctionName="good", InvocationType="Event",
               Payload=b'"' + b"x" * (1024 * 1024) + b'"')
    assert error_code(e) == ("RequestEntityTooLargeException", 413)
    assert "byte payload is too large for the Event invocation type (limit 1048576 bytes)" in str(e)
    e = expect(ClientError, create, c, "too-big", os.urandom(52_500_000))
    assert error_code(e) == ("RequestEntityTooLargeException", 413), e.response
    assert "Zipped size must be smaller than 52428800 bytes" in str(e)
    e = expect(ClientError, create, c, "too-big", os.urandom(53_000_000))
    assert error_code(e) == ("RequestEntityTooLargeException", 413), e.response
    assert "Request must be smaller than 70167211 bytes for the CreateFunction operation" in str(e)
    e = expect(c.exceptions.InvalidRequestContentException, c.invoke, FunctionName="good", Payload=b"{nope")

    # Missing things and conflicts.
    e = expect(c.exceptions.ResourceConflictException, create, c, "good")
    assert "Function already exist: good" in str(e)
    e = expect(c.exceptions.ResourceNotFoundException, c.invoke, FunctionName="good", Qualifier="7")
    assert str(e).endswith("function:good:7")
    e = expect(c.exceptions.ResourceNotFoundException, c.get_alias, FunctionName="good", Name="nope")

    # Nothing was half-created, and ledge still serves.
    assert [f["FunctionName"] for f in c.list_functions()["Functions"]] == ["good"]
    for name in ["bad-json", "bad-field", "not-zip", "reserved-env", "six-layers", "too-big", "bad-rt"]:
        expect(c.exceptions.ResourceNotFoundException, c.get_function, FunctionName=name)
    _, p = invoke_json(c, FunctionName="good", Payload=b'{"still": "serving"}')
    assert p["event"] == {"still": "serving"}
    assert c.get_function(FunctionName="good")["Configuration"]["Timeout"] == 10
    print("bad input: ok")


def async_invocations():
    c = client()
    create(c, "sink", zip_of({"app.py": "def handler(event, context):\n    print('SINK', event['requestContext']['condition'])\n    return 'ok'\n"}))
    create(c, "flaky", zip_of({"app.py": "def handler(event, context):\n    raise RuntimeError('always fails')\n"}))
    create(c, "steady")
    sink_arn = c.get_function(FunctionName="sink")["Configuration"]["FunctionArn"]
    conf = c.put_function_event_invoke_config(
        FunctionName="flaky", MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": sink_arn}})
    assert conf["MaximumRetryAttempts"] == 1 and conf["FunctionArn"].endswith(":flaky:$LATEST")
    got = c.get_function_event_invoke_config(FunctionName="flaky")
    assert got["DestinationConfig"]["OnFailure"]["Destination"] == sink_arn
    assert len(c.list_function_event_invoke_configs(FunctionName="flaky")["FunctionEventInvokeConfigs"]) == 1
    e = expect(c.exceptions.ResourceNotFoundException, c.get_function_event_invoke_config, FunctionName="steady")
    e = expect(c.exceptions.InvalidParameterValueException, c.put_function_event_invoke_config,
               FunctionName="steady", MaximumRetryAttempts=3)

    r = c.invoke(FunctionName="steady", InvocationType="Event", Payload=b'{"async": true}')
    assert r["StatusCode"] == 202 and r["Payload"].read() == b""
    rid = r["ResponseMetadata"]["RequestId"]
    wait_until("the event to run", lambda: f"END RequestId: {rid}" in log_of("steady"))
    assert c.invoke(FunctionName="steady", InvocationType="DryRun")["StatusCode"] == 204

    r = c.invoke(FunctionName="flaky", InvocationType="Event", Payload=b'{"k": "v"}')
    rid = r["ResponseMetadata"]["RequestId"]
    failures = wait_until("the failure record", lambda: dlq("flaky"))
    rec = failures[0]["record"]
    assert failures[0]["condition"] == "RetriesExhausted" and failures[0]["requestId"] == rid
    assert rec["version"] == "1.0"
    assert rec["requestContext"] == {
        "requestId": rid, "condition": "RetriesExhausted", "approximateInvokeCount": 2,
        "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:flaky:$LATEST"}, rec
    assert rec["requestPayload"] == {"k": "v"}
    assert rec["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST",
                                      "functionError": "Unhandled"}
    assert rec["responsePayload"]["errorMessage"] == "always fails"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", rec["timestamp"])
    assert log_of("flaky").count(f"START RequestId: {rid}") == 2, "one retry, same request id"
    wait_until("the OnFailure destination to run", lambda: "SINK RetriesExhausted" in log_of("sink"))

    # An SQS destination is out of ledge's reach: the record says so.
    c.update_function_event_invoke_config(
        FunctionName="flaky", MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:123456789012:dlq"}})
    c.invoke(FunctionName="flaky", InvocationType="Event", Payload=b"{}")
    second = wait_until("a second record", lambda: len(dlq("flaky")) == 2 and dlq("flaky"))[1]
    assert second["record"]["requestContext"]["approximateInvokeCount"] == 1
    assert "cannot deliver to sqs destinations" in second["note"], second
    c.delete_function_event_invoke_config(FunctionName="flaky")
    print("async: ok")


def restart_setup():
    c = client()
    create(c, "slow", zip_of({"app.py": "import time\ndef handler(event, context):\n    time.sleep(0.3)\n    return event\n"}))
    c.publish_version(FunctionName="slow")
    c.create_alias(FunctionName="slow", Name="live", FunctionVersion="1")
    c.put_function_concurrency(FunctionName="slow", ReservedConcurrentExecutions=1)
    ids = []
    for i in range(6):
        r = c.invoke(FunctionName="slow", InvocationType="Event", Payload=json.dumps({"i": i}).encode())
        ids.append(r["ResponseMetadata"]["RequestId"])
    print(json.dumps(ids))


def restart_check(ids):
    c = client()
    info = c.get_function(FunctionName="slow")
    assert info["Concurrency"]["ReservedConcurrentExecutions"] == 1
    assert c.get_alias(FunctionName="slow", Name="live")["FunctionVersion"] == "1"
    for rid in ids:
        wait_until(f"event {rid} to run after the restart", lambda: f"END RequestId: {rid}" in log_of("slow"))
    r, p = invoke_json(c, FunctionName="slow", Qualifier="live", Payload=b'{"after": "restart"}')
    assert r["ExecutedVersion"] == "1" and p == {"after": "restart"}
    print("restart: ok")


def auth():
    good = client("AKIDLEDGE", "s3cret")
    bad_secret = client("AKIDLEDGE", "wrong")
    unknown = client("AKIDNOBODY", "s3cret")
    e = expect(ClientError, create, unknown, "nope")
    assert error_code(e) == ("UnrecognizedClientException", 403), e.response
    e = expect(ClientError, create, bad_secret, "nope")
    assert error_code(e) == ("InvalidSignatureException", 403), e.response
    e = expect(ClientError, bad_secret.invoke, FunctionName="nope", Payload=b"{}")
    assert error_code(e) == ("InvalidSignatureException", 403)
    assert good.list_functions()["Functions"] == [], "refused requests changed nothing"
    create(good, "signed")
    _, p = invoke_json(good, FunctionName="signed", Payload=b'{"s": 1}')
    assert p["event"] == {"s": 1}
    # ARNs in the path are signed double-encoded, as botocore does.
    arn = good.get_function(FunctionName="signed")["Configuration"]["FunctionArn"]
    assert good.get_function(FunctionName=arn)["Configuration"]["FunctionName"] == "signed"
    print("auth: ok")


def cli():
    c = client()
    create(c, "clifn")
    env = dict(os.environ, AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="y", AWS_DEFAULT_REGION="us-east-1")
    aws = [sys.executable, "-m", "awscli", "--endpoint-url", ENDPOINT, "lambda"]
    subprocess.run(aws + ["wait", "function-active", "--function-name", "clifn"], env=env, check=True, timeout=60)
    out = os.path.join(STATE_DIR, "cli-out.json")
    version = subprocess.run([sys.executable, "-m", "awscli", "--version"], env=env,
                             capture_output=True, text=True).stdout + "x"
    # AWS CLI v2 needs --cli-binary-format for a raw JSON payload; v1 (the one on PyPI)
    # sends it raw and does not know the flag.
    raw = ["--cli-binary-format", "raw-in-base64-out"] if "aws-cli/2" in version else []
    res = subprocess.run(aws + ["invoke", "--function-name", "clifn"] + raw +
                         ["--payload", '{"from": "cli"}', out],
                         env=env, check=True, capture_output=True, text=True, timeout=60)
    meta = json.loads(res.stdout)
    assert meta["StatusCode"] == 200 and meta["ExecutedVersion"] == "$LATEST", meta
    assert json.load(open(out))["event"] == {"from": "cli"}
    listed = json.loads(subprocess.run(aws + ["list-functions"], env=env, check=True,
                                       capture_output=True, text=True).stdout)
    assert "clifn" in [f["FunctionName"] for f in listed["Functions"]]
    print("cli: ok")


def template():
    """Functions and layers of a template are ordinary functions and layers to the API."""
    c = client()
    names = [f["FunctionName"] for f in c.list_functions()["Functions"]]
    assert names == ["tpl-fail", "tpl-sink"], names
    fail = c.get_function(FunctionName="tpl-fail")["Configuration"]
    assert fail["Layers"][0]["Arn"].endswith(":layer:tpl-layer:1"), fail
    assert fail["State"] == "Active" and fail["Runtime"] == "python3.11"
    assert [l["LayerName"] for l in c.list_layers()["Layers"]] == ["tpl-layer"]
    conf = c.get_function_event_invoke_config(FunctionName="tpl-fail")
    assert conf["MaximumRetryAttempts"] == 0, conf
    r = c.invoke(FunctionName="tpl-fail", InvocationType="Event", Payload=b'{"from": "template"}')
    rid = r["ResponseMetadata"]["RequestId"]
    rec = wait_until("the failure record", lambda: dlq("tpl-fail"))[0]["record"]
    assert rec["requestContext"]["requestId"] == rid
    assert rec["requestContext"]["approximateInvokeCount"] == 1
    wait_until("the sink to get the record", lambda: "SINK RetriesExhausted" in log_of("tpl-sink"))
    # A template function can be versioned like any other.
    v = c.publish_version(FunctionName="tpl-sink")
    assert v["Version"] == "1"
    print("template: ok")


if __name__ == "__main__":
    step = sys.argv[1]
    if step == "restart-check":
        restart_check(json.loads(sys.argv[2]))
    else:
        {"lifecycle": lifecycle, "bad-input": bad_input, "async": async_invocations,
         "restart-setup": restart_setup, "auth": auth, "cli": cli, "template": template}[step]()
