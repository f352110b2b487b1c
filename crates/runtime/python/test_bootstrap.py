"""Drives the real bootstrap.py in a subprocess against a fake Lambda Runtime API.

Run: python3 -m unittest discover -s crates/runtime/python -p 'test_*.py'
Set LEDGE_TEST_PYTHON to pick the interpreter that runs the bootstrap (default: this one).
"""
import calendar
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
BOOTSTRAP = os.path.join(HERE, "bootstrap.py")
FIXTURES = os.path.normpath(os.path.join(HERE, "..", "tests", "fixtures", "python"))
PYTHON = os.environ.get("LEDGE_TEST_PYTHON") or sys.executable
# How ledge launches the bootstrap: as a cached module (recommended) or as a script.
MODULE_CMD = [PYTHON, "-S", "-c", "import sys;sys.path[0]=sys.argv[1];import bootstrap;bootstrap.main()", HERE]
SCRIPT_CMD = [PYTHON, "-S", BOOTSTRAP]
TIMEOUT = 20.0

PY_MINOR = int(
    subprocess.check_output([PYTHON, "-S", "-c", "import sys;print(sys.version_info[1])"]).decode()
)
PYVER = "python3.%d" % PY_MINOR
WARNING_TEXT = (
    "LAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in the function code. "
    "However, in rare cases, a Lambda runtime update can cause unexpected function behavior. For "
    "functions using managed runtimes, runtime updates can be triggered by a function change, or "
    "can be applied automatically. To determine if the runtime has been updated, check the runtime "
    "version in the INIT_START log entry. If this error correlates with a change in the runtime "
    "version, you may be able to mitigate this error by temporarily rolling back to the previous "
    "runtime version. For more information, see "
    "https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html\r"
)
TS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


class Result(object):
    def __init__(self, kind, request_id, headers, body, stdout_snapshot):
        self.kind = kind  # "response" | "error" | "init_error"
        self.request_id = request_id
        self.headers = headers  # lower-cased names
        self.body = body
        self.stdout_snapshot = stdout_snapshot

    def json(self):
        return json.loads(self.body)


class FakeRuntimeAPI(object):
    """Just enough of the 2018-06-01 Runtime API to drive the bootstrap."""

    def __init__(self):
        self.events = queue.Queue()
        self.results = queue.Queue()
        self.stdout_path = None
        self.next_headers = []
        self.stopping = False
        self.connections = 0
        self.close_after_post = None  # None | "header" | "silent"
        self.chunked_next = False
        self.reject_posts = False
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def setup(self):
                api.connections += 1
                BaseHTTPRequestHandler.setup(self)

            def _reply(self, status, body=b'{"status":"OK"}', headers=()):
                self.send_response(status)
                if api.close_after_post == "header":
                    self.send_header("Connection", "close")
                elif api.close_after_post == "silent":
                    self.close_connection = True
                self.send_header("Content-Type", "application/json")
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path != "/2018-06-01/runtime/invocation/next":
                    return self._reply(404, b"{}")
                api.next_headers.append({k.lower(): v for k, v in self.headers.items()})
                while True:
                    try:
                        ev = api.events.get(timeout=0.1)
                        break
                    except queue.Empty:
                        if api.stopping:
                            self.close_connection = True
                            return
                request_id, body, headers = ev
                self.send_response(200)
                for k, v in headers:
                    self.send_header(k, v)
                if api.chunked_next:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for i in range(0, len(body), 7):
                        part = body[i:i + 7]
                        self.wfile.write(b"%x;ext=1\r\n%s\r\n" % (len(part), part))
                    self.wfile.write(b"0\r\nX-Trailer: t\r\n\r\n")
                else:
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                snapshot = None
                if api.stdout_path:
                    with open(api.stdout_path, "rb") as f:
                        snapshot = f.read()
                headers = {k.lower(): v for k, v in self.headers.items()}
                m = re.match(r"^/2018-06-01/runtime/invocation/([^/]+)/(response|error)$", self.path)
                if m and api.reject_posts:
                    return self._reply(413, b'{"errorMessage":"Exceeded maximum allowed payload size '
                                            b'(6291556 bytes).","errorType":"RequestEntityTooLarge"}')
                if m:
                    api.results.put(Result(m.group(2), m.group(1), headers, body, snapshot))
                    return self._reply(202)
                if self.path == "/2018-06-01/runtime/init/error":
                    api.results.put(Result("init_error", "", headers, body, snapshot))
                    return self._reply(202)
                self._reply(404, b"{}")

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                if not isinstance(sys.exc_info()[1], (ConnectionError, BrokenPipeError)):
                    ThreadingHTTPServer.handle_error(self, request, client_address)

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()
        self.address = "127.0.0.1:%d" % self.server.server_address[1]

    def invoke(self, payload=b"{}", content_type="application/json", request_id=None,
               deadline_ms=None, extra_headers=(), timeout=TIMEOUT):
        request_id = request_id or str(uuid.uuid4())
        if not isinstance(payload, bytes):
            payload = json.dumps(payload).encode()
        headers = [
            ("Lambda-Runtime-Aws-Request-Id", request_id),
            ("Lambda-Runtime-Deadline-Ms", str(deadline_ms or int(time.time() * 1000) + 30000)),
            ("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:fn"),
        ]
        if content_type is not None:
            headers.append(("Content-Type", content_type))
        headers.extend(extra_headers)
        self.events.put((request_id, payload, headers))
        return self.wait(timeout)

    def wait(self, timeout=TIMEOUT):
        return self.results.get(timeout=timeout)

    def close(self):
        self.stopping = True
        self.server.shutdown()
        self.server.server_close()


class BootstrapCase(unittest.TestCase):
    handler = "app.handler"
    fixture = "ok"
    extra_env = {}
    launch = MODULE_CMD

    def start(self, fixture=None, handler=None, extra_env=None, layer=None):
        self.api = FakeRuntimeAPI()
        self.addCleanup(self.api.close)
        self.tmp = tempfile.mkdtemp(prefix="ledge-bootstrap-test-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.task_root = os.path.join(FIXTURES, fixture or self.fixture)  # absolute paths win
        self.opt_dir = layer or os.path.join(self.tmp, "opt")
        self.stdout_path = os.path.join(self.tmp, "stdout")
        self.stderr_path = os.path.join(self.tmp, "stderr")
        self.api.stdout_path = self.stdout_path
        env = {
            "_HANDLER": handler or self.handler,
            "AWS_LAMBDA_RUNTIME_API": self.api.address,
            "LAMBDA_TASK_ROOT": self.task_root,
            "LAMBDA_RUNTIME_DIR": HERE,
            "AWS_LAMBDA_FUNCTION_NAME": "fn",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/fn",
            "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EXECUTION_ENV": "AWS_Lambda_" + PYVER,
            "TZ": ":UTC",
            "LANG": "en_US.UTF-8",
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "_LEDGE_SITE_DIRS": os.pathsep.join(["/ledge/site/a", "/ledge/site/b"]),
            "_LEDGE_OPT_DIR": self.opt_dir,
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        env.update(self.extra_env)
        env.update(extra_env or {})
        self.out = open(self.stdout_path, "wb")
        self.err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            self.launch, env=env, cwd=self.task_root, stdout=self.out,
            stderr=self.err, stdin=subprocess.DEVNULL,
        )
        self.addCleanup(self._stop)
        return self.api

    def _stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.out.close()
        self.err.close()

    def stdout(self):
        with open(self.stdout_path, "rb") as f:
            return f.read().decode("utf-8")

    def stderr(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def task_dir(self, source):
        root = tempfile.mkdtemp(prefix="ledge-task-")
        self.addCleanup(shutil.rmtree, root, True)
        with open(os.path.join(root, "app.py"), "w") as f:
            f.write(source)
        return root

    def expected_json(self, obj):
        return json.dumps(obj, ensure_ascii=PY_MINOR < 12).encode("utf-8")

    def fixture_file(self, *parts):
        return os.path.join(self.task_root, *parts)


class TestSuccess(BootstrapCase):
    def test_success_bytes_and_headers(self):
        api = self.start("ok")
        r = api.invoke({"name": "world"}, request_id="req-1")
        self.assertEqual(r.kind, "response")
        self.assertEqual(r.request_id, "req-1")
        self.assertEqual(r.body, b'{"hello": "world"}')
        self.assertEqual(r.headers["content-type"], "application/json")
        self.assertTrue(r.headers["user-agent"].startswith("aws-lambda-python/3."))
        # warm invokes reuse the same keep-alive connection
        for i in range(5):
            r = api.invoke({"name": i})
            self.assertEqual(r.body, ('{"hello": %d}' % i).encode())
        deadline = time.time() + TIMEOUT
        while len(api.next_headers) < 7 and time.time() < deadline:
            time.sleep(0.01)
        self.assertEqual(len(api.next_headers), 7)
        self.assertEqual(api.connections, 1)

    def test_package_handler_with_slash_and_dots(self):
        api = self.start("pkg", handler="mypkg.sub.mod.handler")
        self.assertEqual(api.invoke({}).body, b'{"module": "mypkg.sub.mod"}')

    def test_package_handler_slash_form(self):
        api = self.start("pkg", handler="mypkg/sub/mod.handler")
        self.assertEqual(api.invoke({}).body, b'{"module": "mypkg.sub.mod"}')

    def test_large_event_and_response(self):
        api = self.start("big")
        n = 3 * 1024 * 1024
        r = api.invoke({"bytes": n, "pad": "y" * (4 * 1024 * 1024)})
        self.assertEqual(r.kind, "response")
        self.assertEqual(len(r.body), n)
        self.assertEqual(r.body[:3], b'"xx')


class InlineCase(BootstrapCase):
    """Cases whose handler code lives in a temporary task root."""

    def start_inline(self, source, handler="app.handler", extra_env=None, layer=None):
        return self.start(self.task_dir(source), handler=handler, extra_env=extra_env, layer=layer)


class TestMarshalling(InlineCase):
    def test_raw_bytes_event_and_bytes_response(self):
        api = self.start_inline(
            "def handler(event, context):\n"
            "    assert isinstance(event, bytes), type(event)\n"
            "    return b'raw:' + event\n"
        )
        r = api.invoke(b"\x00\xffnot json", content_type="application/octet-stream")
        self.assertEqual(r.kind, "response")
        self.assertEqual(r.body, b"raw:\x00\xffnot json")
        self.assertEqual(r.headers["content-type"], "application/unknown")
        # no Content-Type at all -> raw bytes as well (awslambdaric compares with == "application/json")
        r = api.invoke(b'{"a": 1}', content_type=None)
        self.assertEqual(r.body, b'raw:{"a": 1}')
        r = api.invoke(b'{"a": 1}', content_type="application/json; charset=utf-8")
        self.assertEqual(r.body, b'raw:{"a": 1}')

    def test_none_decimal_nan_unicode(self):
        api = self.start_inline(
            "import decimal\n"
            "def handler(event, context):\n"
            "    k = event['k']\n"
            "    if k == 'none': return None\n"
            "    if k == 'dec': return {'a': decimal.Decimal('1.10'), 'b': [decimal.Decimal('1E+2'),"
            " decimal.Decimal('NaN'), decimal.Decimal('-0')], 'c': 1.5}\n"
            "    if k == 'nan': return [float('nan'), float('inf'), -float('inf')]\n"
            "    if k == 'uni': return {'price': '\\u00a31.00', 'emoji': '\\U0001F600'}\n"
            "    if k == 'nested_bytes': return {'b': b'caf\\xc3\\xa9'}\n"
            "    if k == 'str': return 'plain'\n"
        )
        self.assertEqual(api.invoke({"k": "none"}).body, b"null")
        self.assertEqual(
            api.invoke({"k": "dec"}).body, b'{"a": 1.10, "b": [1E+2, NaN, -0], "c": 1.5}'
        )
        self.assertEqual(api.invoke({"k": "nan"}).body, b"[NaN, Infinity, -Infinity]")
        r = api.invoke({"k": "uni"})
        self.assertEqual(r.body, self.expected_json({"price": "\u00a31.00", "emoji": "\U0001F600"}))
        self.assertEqual(api.invoke({"k": "nested_bytes"}).body, self.expected_json({"b": "caf\u00e9"}))
        self.assertEqual(api.invoke({"k": "str"}).body, b'"plain"')

    def test_unmarshal_error(self):
        api = self.start_inline("def handler(event, context):\n    return event\n")
        r = api.invoke(b'{"a": ', request_id="bad-1")
        self.assertEqual(r.kind, "error")
        self.assertEqual(
            r.body,
            self.expected_json({
                "errorMessage": "Unable to unmarshal input: Expecting value: line 1 column 7 (char 6)",
                "errorType": "Runtime.UnmarshalError",
                "requestId": "bad-1",
                "stackTrace": [],
            }),
        )
        self.assertEqual(r.headers["lambda-runtime-function-error-type"], "Runtime.UnmarshalError")
        r = api.invoke(b"NaN", request_id="bad-2")
        self.assertEqual(r.json()["errorMessage"],
                         "Unable to unmarshal input: Expecting value: line 1 column 1 (char 0)")
        r = api.invoke(b"{} x", request_id="bad-3")
        self.assertEqual(
            r.json()["errorMessage"],
            "Unable to unmarshal input: Extra data: line 1 column 4 - line 1 column 5 (char 3 - 4)",
        )
        # a UTF-8 BOM is skipped (simplejson), the runtime keeps serving
        self.assertEqual(api.invoke(b"\xef\xbb\xbf [1] \n").body, b"[1]")

    def test_context_unmarshal_error(self):
        api = self.start_inline("def handler(event, context):\n    return 1\n")
        r = api.invoke(b"{}", request_id="cc-1",
                       extra_headers=[("Lambda-Runtime-Client-Context", "{not json")])
        self.assertEqual(r.kind, "error")
        self.assertEqual(
            r.body,
            self.expected_json({
                "errorMessage": "Unable to parse Client Context JSON: Expecting property name "
                                "enclosed in double quotes: line 1 column 2 (char 1)",
                "errorType": "Runtime.LambdaContextUnmarshalError",
                "requestId": "cc-1",
                "stackTrace": [],
            }),
        )
        xray = json.loads(r.headers["lambda-runtime-function-xray-error-cause"])
        self.assertEqual(xray["exceptions"][0]["type"], "LambdaValidationError")
        self.assertEqual(xray["stack"] if "stack" in xray else xray["exceptions"][0]["stack"], [])


class TestTransport(BootstrapCase):
    def test_reconnects_after_connection_close_header(self):
        api = self.start("ok")
        api.close_after_post = "header"
        for i in range(3):
            self.assertEqual(api.invoke({"name": i}).body, ('{"hello": %d}' % i).encode())
        self.assertGreaterEqual(api.connections, 3)

    def test_reconnects_after_silent_close(self):
        api = self.start("ok")
        api.close_after_post = "silent"
        for i in range(3):
            self.assertEqual(api.invoke({"name": i}).body, ('{"hello": %d}' % i).encode())
        self.assertGreaterEqual(api.connections, 3)

    def test_chunked_next_body(self):
        api = self.start("ok")
        api.chunked_next = True
        self.assertEqual(api.invoke({"name": "chunky" * 20}).body,
                         ('{"hello": "%s"}' % ("chunky" * 20)).encode())
        self.assertEqual(api.invoke({"name": 1}).body, b'{"hello": 1}')

    def test_sigterm_handler_runs_while_waiting_for_next(self):
        api = self.start(self.task_dir(
            "import signal, sys\n"
            "def on_term(signum, frame):\n"
            "    print('got SIGTERM')\n"
            "    sys.exit(0)\n"
            "signal.signal(signal.SIGTERM, on_term)\n"
            "def handler(e, c):\n    return 'ok'\n"
        ))
        self.assertEqual(api.invoke({}).body, b'"ok"')
        deadline = time.time() + TIMEOUT
        while len(api.next_headers) < 2 and time.time() < deadline:
            time.sleep(0.01)
        self.proc.terminate()
        self.assertEqual(self.proc.wait(TIMEOUT), 0)
        self.assertIn("got SIGTERM\n", self.stdout())

    def test_logging_hook_survives_find_spec_probe(self):
        api = self.start(self.task_dir(
            "import importlib.util\n"
            "assert importlib.util.find_spec('logging') is not None\n"
            "import logging\n"
            "def handler(e, c):\n"
            "    logging.getLogger().warning('w')\n"
            "    return [type(h).__name__ for h in logging.getLogger().handlers]\n"
        ))
        r = api.invoke({}, request_id="fs-1")
        self.assertEqual(r.body, b'["LambdaLoggerHandler"]')
        self.assertRegex(r.stdout_snapshot.decode(), r"^\[WARNING\]\t" + TS + r"\tfs-1\tw\n$")

    def test_post_failure_crashes_like_awslambdaric(self):
        api = self.start("big")
        api.reject_posts = True
        api.events.put(("big-1", b'{"bytes": 10}', [("Lambda-Runtime-Aws-Request-Id", "big-1"),
                                                    ("Content-Type", "application/json")]))
        self.assertEqual(self.proc.wait(TIMEOUT), 1)
        self.assertIn("RuntimeError: Failed to post invocation response", self.stderr())


class TestScriptLaunch(TestSuccess):
    """The same checks with the bootstrap run as a script (python3.X -S .../bootstrap.py)."""

    launch = SCRIPT_CMD

    def test_init_error_as_script(self):
        api = self.start("no_handler")
        self.assertEqual(api.wait().kind, "init_error")
        self.assertEqual(self.proc.wait(TIMEOUT), 1)


class TestMarshalError(BootstrapCase):
    def test_marshal_error(self):
        api = self.start("marshal_error")
        r = api.invoke({}, request_id="m-1")
        self.assertEqual(r.kind, "error")
        self.assertEqual(
            r.body,
            self.expected_json({
                "errorMessage": "Unable to marshal response: Object of type set is not JSON serializable",
                "errorType": "Runtime.MarshalError",
                "requestId": "m-1",
                "stackTrace": [],
            }),
        )
        self.assertEqual(r.headers["lambda-runtime-function-error-type"], "Runtime.MarshalError")
        self.assertEqual(
            json.loads(r.headers["lambda-runtime-function-xray-error-cause"]),
            {
                "working_directory": self.task_root,
                "exceptions": [{
                    "message": "Unable to marshal response: Object of type set is not JSON serializable",
                    "type": "LambdaValidationError",
                    "stack": [],
                }],
                "paths": [],
            },
        )
        self.assertIn(
            "[ERROR] Runtime.MarshalError: Unable to marshal response: Object of type set is not "
            "JSON serializable\rTraceback (most recent call last):\n",
            self.stdout(),
        )


class TestHandlerException(BootstrapCase):
    def test_raises(self):
        api = self.start("raises")
        r = api.invoke({}, request_id="r-1")
        app = self.fixture_file("app.py")
        stack = [
            '  File "%s", line 6, in handler\n    fail()\n' % app,
            '  File "%s", line 2, in fail\n    raise ValueError("boom")\n' % app,
        ]
        self.assertEqual(r.kind, "error")
        self.assertEqual(
            r.body,
            self.expected_json({
                "errorMessage": "boom", "errorType": "ValueError", "requestId": "r-1", "stackTrace": stack,
            }),
        )
        self.assertEqual(r.headers["lambda-runtime-function-error-type"], "ValueError")
        self.assertEqual(r.headers["content-type"], "application/json")
        xray = json.loads(r.headers["lambda-runtime-function-xray-error-cause"])
        self.assertEqual(xray, {
            "working_directory": self.task_root,
            "exceptions": [{
                "message": "boom", "type": "ValueError",
                "stack": [{"label": "handler", "path": app, "line": 6},
                          {"label": "fail", "path": app, "line": 2}],
            }],
            "paths": [app],
        })
        nb = "\u00a0"
        expected_log = (
            "[ERROR] ValueError: boom\rTraceback (most recent call last):\r"
            + nb * 2 + 'File "%s", line 6, in handler\r' % app
            + nb * 4 + "fail()\r"
            + nb * 2 + 'File "%s", line 2, in fail\r' % app
            + nb * 4 + 'raise ValueError("boom")\n'
        )
        self.assertEqual(r.stdout_snapshot.decode("utf-8"), expected_log)
        # the runtime survives a handler exception
        r = api.invoke({}, request_id="r-2")
        self.assertEqual(r.json()["requestId"], "r-2")
        self.assertIsNone(self.proc.poll())


class TestInitErrors(BootstrapCase):
    def assert_init_error(self, fixture, handler, error_type, message, stack=None, exact_stack=True):
        api = self.start(fixture, handler=handler)
        r = api.wait()
        self.assertEqual(r.kind, "init_error")
        self.assertEqual(r.headers["lambda-runtime-function-error-type"], error_type)
        body = r.json()
        self.assertEqual(list(body), ["errorMessage", "errorType", "requestId", "stackTrace"])
        self.assertEqual(body["errorMessage"], message)
        self.assertEqual(body["errorType"], error_type)
        self.assertEqual(body["requestId"], "")
        if exact_stack:
            self.assertEqual(body["stackTrace"], stack or [])
            self.assertEqual(r.body, self.expected_json(body))
        self.assertEqual(self.proc.wait(TIMEOUT), 1)
        out = self.stdout()
        self.assertRegex(out, r"^\[WARNING\]\t" + TS + r"\t\t" + re.escape(WARNING_TEXT) + "\n")
        first_line = "[ERROR] %s: %s\rTraceback (most recent call last):" % (error_type, message)
        self.assertIn(first_line, out)
        self.assertTrue(out.endswith("\n"))
        self.assertEqual(api.next_headers, [])
        return body, out

    def test_import_error(self):
        _, out = self.assert_init_error(
            "import_error", "app.handler", "Runtime.ImportModuleError",
            "Unable to import module 'app': No module named 'this_module_does_not_exist'",
        )
        self.assertTrue(out.endswith(
            "[ERROR] Runtime.ImportModuleError: Unable to import module 'app': No module named "
            "'this_module_does_not_exist'\rTraceback (most recent call last):\n"))

    def test_missing_module(self):
        self.assert_init_error(
            "ok", "nope.handler", "Runtime.ImportModuleError",
            "Unable to import module 'nope': No module named 'nope'",
        )

    def test_syntax_error(self):
        app = os.path.join(FIXTURES, "syntax_error", "app.py")
        proc = subprocess.run(
            [PYTHON, "-S", "-c", "import sys\ntry:\n compile(open(sys.argv[1]).read(), sys.argv[1], 'exec')\n"
             "except SyntaxError as e:\n print(repr((str(e), e.lineno, e.text)))", app],
            stdout=subprocess.PIPE, check=True,
        )
        msg, lineno, text = eval(proc.stdout.decode())
        self.assert_init_error(
            "syntax_error", "app.handler", "Runtime.UserCodeSyntaxError",
            "Syntax error in module 'app': %s" % msg,
            ['  File "%s" Line %s\n    %s' % (app, lineno, text)],
        )

    def test_handler_not_found(self):
        self.assert_init_error(
            "no_handler", "app.handler", "Runtime.HandlerNotFound",
            "Handler 'handler' missing on module 'app'",
        )

    def test_malformed_handler(self):
        self.assert_init_error(
            "ok", "apphandler", "Runtime.MalformedHandlerName",
            "Bad handler 'apphandler': not enough values to unpack (expected 2, got 1)",
        )

    def test_builtin_module_conflict(self):
        self.assert_init_error(
            "ok", "sys.handler", "Runtime.BuiltInModuleConflict",
            "Cannot use built-in module sys as a handler module",
        )

    def test_init_raises(self):
        body, out = self.assert_init_error(
            "init_raises", "app.handler", "RuntimeError", "init failed", exact_stack=False,
        )
        stack = body["stackTrace"]
        # like AWS: starts in importlib (bootstrap frames stripped), ends in the user module
        self.assertRegex(stack[0], r'^  File ".*importlib/__init__\.py", line \d+, in import_module\n')
        self.assertEqual(
            stack[-1],
            '  File "%s", line 1, in <module>\n    raise RuntimeError("init failed")\n'
            % os.path.join(FIXTURES, "init_raises", "app.py"),
        )
        self.assertFalse(any("bootstrap.py" in s for s in stack))
        self.assertIn("\r\u00a0\u00a0File ", out)


class TestContext(InlineCase):
    def test_context_attributes(self):
        api = self.start("context")
        deadline = int(time.time() * 1000) + 10000
        cc = {
            "client": {"installation_id": "i", "app_title": "t", "app_version_name": "vn",
                       "app_version_code": "vc", "app_package_name": "p"},
            "custom": {"k": "v"},
            "env": {"platform": "x"},
        }
        r = api.invoke(
            {}, request_id="ctx-1", deadline_ms=deadline,
            extra_headers=[
                ("Lambda-Runtime-Client-Context", json.dumps(cc)),
                ("Lambda-Runtime-Cognito-Identity",
                 json.dumps({"cognitoIdentityId": "cid", "cognitoIdentityPoolId": "pool"})),
                ("Lambda-Runtime-Aws-Tenant-Id", "tenant-7"),
                ("Lambda-Runtime-Trace-Id", "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1"),
            ],
        )
        self.assertEqual(r.kind, "response", r.body)
        c = r.json()
        self.assertEqual(c["aws_request_id"], "ctx-1")
        self.assertEqual(c["function_name"], "fn")
        self.assertEqual(c["function_version"], "$LATEST")
        self.assertEqual(c["invoked_function_arn"], "arn:aws:lambda:us-east-1:123456789012:function:fn")
        self.assertEqual(c["memory_limit_in_mb"], "128")  # a string, as in AWS
        self.assertEqual(c["log_group_name"], "/aws/lambda/fn")
        self.assertEqual(c["log_stream_name"], "2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef")
        self.assertEqual(c["tenant_id"], "tenant-7")
        self.assertEqual(c["identity"], {"cognito_identity_id": "cid", "cognito_identity_pool_id": "pool"})
        self.assertEqual(c["client_context"], cc)
        self.assertTrue(0 < c["remaining_time_in_millis"] <= 10000, c["remaining_time_in_millis"])
        env = c["environ"]
        self.assertEqual(env["_X_AMZN_TRACE_ID"],
                         "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1")
        self.assertIsNone(env["_LEDGE_SITE_DIRS"])
        self.assertIsNone(env["_LEDGE_OPT_DIR"])
        self.assertEqual(env["_HANDLER"], "app.handler")
        self.assertEqual(c["cwd"], self.task_root)
        layer = self.opt_dir
        path = c["sys_path"]
        self.assertEqual(path[:3], [
            self.task_root,
            layer + "/python/lib/%s/site-packages" % PYVER,
            layer + "/python",
        ])
        self.assertEqual(path[-2:], ["/ledge/site/a", "/ledge/site/b"])
        stdlib = path[3:-2]
        self.assertTrue(stdlib and all(PYVER in p or "python3%d" % PY_MINOR in p for p in stdlib), stdlib)
        self.assertNotIn(HERE, path)
        self.assertEqual(c["argv"], [BOOTSTRAP])

        # second invoke: no trace header -> env var removed; no client context / cognito
        r = api.invoke({}, request_id="ctx-2")
        c = r.json()
        self.assertIsNone(c["environ"]["_X_AMZN_TRACE_ID"])
        self.assertIsNone(c["client_context"])
        self.assertEqual(c["identity"], {"cognito_identity_id": None, "cognito_identity_pool_id": None})
        self.assertIsNone(c["tenant_id"])
        # deadline already passed -> 0
        r = api.invoke({}, request_id="ctx-3", deadline_ms=int(time.time() * 1000) - 5000)
        self.assertEqual(r.json()["remaining_time_in_millis"], 0)

    def test_layer_on_path(self):
        layer = tempfile.mkdtemp(prefix="ledge-opt-")
        self.addCleanup(shutil.rmtree, layer, True)
        site = os.path.join(layer, "python", "lib", PYVER, "site-packages")
        os.makedirs(site)
        with open(os.path.join(layer, "python", "layermod.py"), "w") as f:
            f.write("WHERE = 'python'\n")
        with open(os.path.join(site, "layermod.py"), "w") as f:
            f.write("WHERE = 'site-packages'\n")
        with open(os.path.join(layer, "python", "onlyplain.py"), "w") as f:
            f.write("WHERE = 'plain'\n")
        api = self.start(self.task_dir("import layermod, onlyplain\n"
                    "def handler(e, c):\n    return [layermod.WHERE, onlyplain.WHERE]\n"), layer=layer)
        self.assertEqual(api.invoke({}).body, b'["site-packages", "plain"]')


class TestLogging(InlineCase):
    def test_log_lines_and_print_ordering(self):
        # a non-UTC zone proves the timestamps are UTC (logging.Formatter.converter = gmtime)
        api = self.start("logs", extra_env={"TZ": "EST+5"})
        r = api.invoke({}, request_id="log-1")
        self.assertEqual(r.body, b'"done"')
        out = r.stdout_snapshot.decode("utf-8")  # taken when the response arrived
        pattern = (
            r"^first line\n"
            r"\[INFO\]\t" + TS + r"\tlog-1\tinfo message\n"
            r"second line\n"
            r"\[WARNING\]\t" + TS + r"\tlog-1\ta warning\n"
            r"context log\n"
            r"last line\n$"
        )
        self.assertRegex(out, pattern)
        ts = re.search(r"\t(" + TS + r")\t", out).group(1)
        logged = calendar.timegm(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S"))
        self.assertLess(abs(logged - time.time()), 120, ts)

    def test_log_level_env(self):
        api = self.start("logs", extra_env={"AWS_LAMBDA_LOG_LEVEL": "WARN"})
        r = api.invoke({}, request_id="log-2")
        out = r.stdout_snapshot.decode("utf-8")
        # the function's own setLevel(INFO) wins, as in awslambdaric (it runs after the runtime's)
        self.assertIn("\tlog-2\tinfo message\n", out)

    def test_json_log_format(self):
        api = self.start("logs", extra_env={"AWS_LAMBDA_LOG_FORMAT": "JSON"})
        r = api.invoke({}, request_id="log-3")
        lines = r.stdout_snapshot.decode("utf-8").splitlines()
        self.assertEqual(lines[0], "first line")
        rec = json.loads(lines[1])
        self.assertEqual(list(rec), ["timestamp", "level", "message", "logger", "requestId"])
        self.assertRegex(rec["timestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")  # awslambdaric 4.2.2
        self.assertEqual((rec["level"], rec["message"], rec["logger"], rec["requestId"]),
                         ("INFO", "info message", "root", "log-3"))
        self.assertEqual(json.loads(lines[3])["level"], "WARNING")

    def test_json_error_log(self):
        api = self.start("raises", extra_env={"AWS_LAMBDA_LOG_FORMAT": "JSON"})
        r = api.invoke({}, request_id="j-1")
        line = r.stdout_snapshot.decode("utf-8")
        self.assertTrue(line.endswith("}\n"))
        rec = json.loads(line)
        self.assertEqual(list(rec), ["timestamp", "level", "errorMessage", "errorType", "requestId", "stackTrace"])
        self.assertRegex(rec["timestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual((rec["level"], rec["errorType"], rec["requestId"]), ("ERROR", "ValueError", "j-1"))

    def test_basic_config_is_noop(self):
        api = self.start(self.task_dir("import logging\nlogging.basicConfig(level=logging.DEBUG, format='%(message)s')\n"
                    "def handler(e, c):\n    logging.error('x')\n"
                    "    return [type(h).__name__ for h in logging.getLogger().handlers]\n"))
        r = api.invoke({}, request_id="b-1")
        self.assertEqual(r.body, b'["LambdaLoggerHandler"]')
        self.assertRegex(r.stdout_snapshot.decode(), r"^\[ERROR\]\t" + TS + r"\tb-1\tx\n$")


class TestProcess(InlineCase):
    def test_crash_exit_code(self):
        api = self.start("crash")
        self.assertEqual(api.invoke({"crash": False}).body, b'"alive"')
        api.events.put(("c-1", b'{"code": 7}', [("Lambda-Runtime-Aws-Request-Id", "c-1"),
                                                ("Content-Type", "application/json")]))
        self.assertEqual(self.proc.wait(TIMEOUT), 7)

    def test_builtins_exit_available(self):
        api = self.start(self.task_dir("import sys\ndef handler(e, c):\n"
                    "    return [callable(exit), callable(quit), sys.flags.no_site, 'os' in sys.modules]\n"))
        self.assertEqual(api.invoke({}).json()[:3], [True, True, 1])

    def test_tmp_counter(self):
        tmpdir = tempfile.mkdtemp(prefix="ledge-tmp-")
        self.addCleanup(shutil.rmtree, tmpdir, True)
        api = self.start("tmp", extra_env={"TMPDIR": tmpdir})
        self.assertEqual(api.invoke({}).body, b'{"count": 1}')
        self.assertEqual(api.invoke({}).body, b'{"count": 2}')


if __name__ == "__main__":
    unittest.main()
