"""ledge managed Python runtime: a single-file, stdlib-only Lambda Runtime API client.

Launch (cwd = LAMBDA_TASK_ROOT), preferably as a module so its bytecode is cached:
    python3.X -S -c "import sys;sys.path[0]=sys.argv[1];import bootstrap;bootstrap.main()" <dir>
(<dir>/__pycache__/bootstrap.cpython-3X.pyc must be writable or pre-built; running the file
as a script, ``python3.X -S <dir>/bootstrap.py``, also works but recompiles it every time).

Environment: the AWS variables (_HANDLER, AWS_LAMBDA_RUNTIME_API, LAMBDA_TASK_ROOT,
AWS_LAMBDA_FUNCTION_*, AWS_LAMBDA_LOG_*, AWS_EXECUTION_ENV, ...) plus two private ones that
are read and removed before user code is imported: _LEDGE_RUNTIME_SOCKET (an abstract Unix
socket serving the same Runtime API, cheaper than loopback TCP), _LEDGE_SITE_DIRS (os.pathsep-separated
site-packages of the interpreter, since ``-S`` skips site) and _LEDGE_OPT_DIR (layer root,
default /opt). sys.path becomes: task root, <opt>/python/lib/python3.X/site-packages,
<opt>/python, the interpreter's own entries, then _LEDGE_SITE_DIRS.

Observable behaviour (payloads, error JSON, headers, log lines, context) follows awslambdaric
4.2.2 (aws/aws-lambda-python-runtime-interface-client). Start-up cost is kept minimal: no
``os``/``socket``/``json``/``logging``/``traceback``/``importlib`` at start; ``_socket`` and
``_json`` (the C accelerators) are used directly and heavy modules load lazily on the paths
that need them. ``logging`` gets AWS's root handler the moment user code first imports it
(a one-shot sys.meta_path hook), before any user basicConfig() call, as in AWS.
"""
import sys
import _socket
import _json
import posix as _posix
import select as _select
import time as _time

_environ = _posix.environ  # bytes -> bytes; os.environ._data is this same dict
_FSENC = sys.getfilesystemencoding()


def _getenv(name, default=None):
    v = _environ.get(name.encode(_FSENC, "surrogateescape"))
    return default if v is None else v.decode(_FSENC, "surrogateescape")


def _unsetenv(key):
    if key in _environ:
        _posix.unsetenv(key)
        del _environ[key]


# --------------------------------------------------------------------------- JSON
# json.loads / json.dumps semantics built on the _json C module (importing the json
# package costs ~6 ms here because json.decoder/json.encoder import re).

_NAN = float("nan")
_INF = float("inf")


class _DecoderCtx(object):
    pass


class _NonFiniteConstant(Exception):
    pass


def _reject_constant(name):
    # simplejson >= 3.19 (what awslambdaric uses for events) rejects NaN/Infinity.
    raise _NonFiniteConstant(name)


def _make_scanner(parse_constant):
    ctx = _DecoderCtx()
    ctx.strict = True
    ctx.object_hook = None
    ctx.object_pairs_hook = None
    ctx.parse_float = float
    ctx.parse_int = int
    ctx.parse_constant = parse_constant
    return _json.make_scanner(ctx)


_scan_std = _make_scanner({"-Infinity": -_INF, "Infinity": _INF, "NaN": _NAN}.__getitem__)
_scan_event = _make_scanner(_reject_constant)


def _skip_ws(s, i):
    n = len(s)
    while i < n and s[i] in " \t\n\r":
        i += 1
    return i


def _linecol(doc, pos):
    lineno = doc.count("\n", 0, pos) + 1
    colno = pos + 1 if lineno == 1 else pos - doc.rindex("\n", 0, pos)
    return lineno, colno


def _decode_error(msg, doc, pos, end=None):
    if end is None:
        from json.decoder import JSONDecodeError

        return JSONDecodeError(msg, doc, pos)
    # simplejson's two-position form (used for "Extra data")
    l1, c1 = _linecol(doc, pos)
    l2, c2 = _linecol(doc, end)
    return ValueError(
        "%s: line %d column %d - line %d column %d (char %d - %d)" % (msg, l1, c1, l2, c2, pos, end)
    )


def _first_constant(s):
    """Index of the first bare NaN/Infinity/-Infinity outside strings (error path only)."""
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c == '"':
            i += 1
            while i < n and s[i] != '"':
                i += 2 if s[i] == "\\" else 1
        elif s.startswith(("NaN", "Infinity", "-Infinity"), i):
            return i
        i += 1
    return 0


def _scan(scanner, s, idx):
    try:
        return scanner(s, idx)
    except SystemError:
        # Before 3.12 the C scanner can only raise JSONDecodeError when json.decoder is
        # already imported (it looks it up in sys.modules); import it and scan again.
        if "json.decoder" in sys.modules:
            raise
        import json.decoder  # noqa: F401

        return scanner(s, idx)


def _loads_event(data):
    """Event JSON with simplejson semantics (awslambdaric's unmarshaller)."""
    s = str(data, "utf-8") if not isinstance(data, str) else data
    idx = 1 if s[:1] == "\ufeff" else 0
    idx = _skip_ws(s, idx)
    try:
        obj, end = _scan(_scan_event, s, idx)
    except StopIteration as err:
        raise _decode_error("Expecting value", s, err.value)
    except _NonFiniteConstant:
        raise _decode_error("Expecting value", s, _first_constant(s))
    end = _skip_ws(s, end)
    if end != len(s):
        raise _decode_error("Extra data", s, end, len(s))
    return obj


def _loads_std(s):
    """json.loads(str) of the standard library (used for the context headers)."""
    if s.startswith("\ufeff"):
        raise _decode_error("Unexpected UTF-8 BOM (decode using utf-8-sig)", s, 0)
    try:
        obj, end = _scan(_scan_std, s, _skip_ws(s, 0))
    except StopIteration as err:
        raise _decode_error("Expecting value", s, err.value)
    end = _skip_ws(s, end)
    if end != len(s):
        raise _decode_error("Extra data", s, end)
    return obj


def _is_decimal(o):
    mods = sys.modules
    for name in ("decimal", "_decimal", "_pydecimal"):
        m = mods.get(name)
        if m is not None and isinstance(o, m.Decimal):
            return True
    return False


_raw_nonce = None


def _to_json(obj, ensure_ascii=None):
    """awslambdaric's to_json: simplejson Encoder(use_decimal=False, allow_nan=True) whose
    default() emits Decimal as raw JSON (NaN -> NaN); bytes are decoded as UTF-8 and objects
    with _asdict() become objects (simplejson defaults); ensure_ascii=False on python3.12+."""
    raws = []

    def default(o):
        global _raw_nonce
        if _is_decimal(o):
            if o.is_nan():
                return _NAN
            if _raw_nonce is None:
                _raw_nonce = _posix.urandom(8).hex()
            raws.append(str(o))
            return "\x00%s%d\x00" % (_raw_nonce, len(raws) - 1)
        if isinstance(o, bytes):
            return str(o, "utf-8")
        asdict = getattr(o, "_asdict", None)
        if asdict is not None and callable(asdict):
            d = asdict()
            if not isinstance(d, dict):
                raise TypeError("_asdict() must return a dict, not %s" % (type(d).__name__,))
            return d
        raise TypeError("Object of type %s is not JSON serializable" % (o.__class__.__name__,))

    if ensure_ascii is None:
        ensure_ascii = _ENSURE_ASCII
    enc = _json.make_encoder(
        {},
        default,
        _json.encode_basestring_ascii if ensure_ascii else _json.encode_basestring,
        None,
        ": ",
        ", ",
        False,
        False,
        True,
    )
    out = "".join(enc(obj, 0))
    if raws:
        for i, raw in enumerate(raws):
            out = out.replace('"\\u0000%s%d\\u0000"' % (_raw_nonce, i), raw)
    return out


def _dumps_log(obj):
    """json.JSONEncoder(ensure_ascii=False, default=str).encode(obj) (JSON log records)."""
    enc = _json.make_encoder({}, str, _json.encode_basestring, None, ": ", ", ", False, False, True)
    return "".join(enc(obj, 0))


def _python_minor(execution_env):
    prefix = "AWS_Lambda_python3."
    if execution_env and execution_env.startswith(prefix):
        try:
            return int(execution_env[len(prefix):])
        except ValueError:
            return None
    return None


_EXECUTION_ENV = _getenv("AWS_EXECUTION_ENV")
_minor = _python_minor(_EXECUTION_ENV)
_ENSURE_ASCII = not (_minor is not None and _minor >= 12)

# ------------------------------------------------------------------------ errors


class FaultException(Exception):
    MARSHAL_ERROR = "Runtime.MarshalError"
    UNMARSHAL_ERROR = "Runtime.UnmarshalError"
    USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
    HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
    IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
    BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
    MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
    LAMBDA_CONTEXT_UNMARSHAL_ERROR = "Runtime.LambdaContextUnmarshalError"
    LAMBDA_RUNTIME_CLIENT_ERROR = "Runtime.LambdaRuntimeClientError"

    def __init__(self, exception_type, msg, trace=None):
        self.msg = msg
        self.exception_type = exception_type
        self.trace = trace


def make_error(error_message, error_type, stack_trace, invoke_id=None):
    return {
        "errorMessage": error_message if error_message else "",
        "errorType": error_type if error_type else "",
        "requestId": invoke_id if invoke_id is not None else "",
        "stackTrace": stack_trace if stack_trace else [],
    }


def _user_frames(tb):
    """traceback tuples with the leading bootstrap frames removed (as awslambdaric)."""
    import traceback

    tb_tuples = [(f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(tb)]
    for i in range(len(tb_tuples)):
        if "/bootstrap.py" not in tb_tuples[i][0]:
            if (
                i
                and tb_tuples[i - 1][2] == "_import_module"
                and tb_tuples[i][2] == "_gcd_import"
            ):
                frame = _import_module_frame()
                tb_tuples = ([frame] if frame else []) + tb_tuples[i:]
            else:
                tb_tuples = tb_tuples[i:]
            break
    return tb_tuples, traceback


def make_xray_fault(ex_type, ex_msg, working_dir, tb_tuples):
    stack = []
    files = set()
    for tb_file, tb_line, tb_method, _code in tb_tuples:
        stack.append({"label": tb_method, "path": tb_file, "line": tb_line})
        files.add(tb_file)
    return {
        "working_directory": working_dir,
        "exceptions": [{"message": ex_msg, "type": ex_type, "stack": stack}],
        "paths": list(files),
    }


def build_fault_result(exc_info, msg):
    etype, value, tb = exc_info
    tb_tuples, traceback = _user_frames(tb)
    return make_error(msg if msg else str(value), etype.__name__, traceback.format_list(tb_tuples))


def _replace_line_indentation(line, indent_char, new_indent_char):
    n = 0
    for c in line:
        if c != indent_char:
            break
        n += 1
    return (new_indent_char * n) + line[n:]


def log_error(error_result, log_sink):
    if _LOG_FORMAT_JSON:
        _get_logging()  # installs time.gmtime as logging.Formatter.converter
        converter = sys.modules["logging"].Formatter.converter
        error_result = dict(
            {
                "timestamp": _time.strftime(_DATETIME_FORMAT, converter(_time.time())),
                "level": "ERROR",
            },
            **error_result
        )
        log_sink.log_error([_to_json(error_result)])
        return
    error_description = "[ERROR]"
    error_type = error_result.get("errorType")
    if error_type:
        error_description += " " + error_type
    error_message = error_result.get("errorMessage")
    if error_message:
        if error_type:
            error_description += ":"
        error_description += " " + error_message
    lines = [error_description]
    stack_trace = error_result.get("stackTrace")
    if stack_trace is not None:
        lines.append("Traceback (most recent call last):")
        for element in stack_trace:
            if element == "":
                lines.append("")
            else:
                for trace_line in element.splitlines():
                    lines.append(_replace_line_indentation(trace_line, " ", "\u00a0"))
    log_sink.log_error(lines)


# ------------------------------------------------------------------------ stdio / logging


class Unbuffered(object):
    def __init__(self, stream):
        self.stream = stream

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, exc_tb):
        pass

    def __getattr__(self, attr):
        return getattr(self.stream, attr)

    def write(self, msg):
        self.stream.write(msg)
        self.stream.flush()

    def writelines(self, msgs):
        self.stream.writelines(msgs)
        self.stream.flush()


class StandardLogSink(object):
    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, exc_tb):
        pass

    def log(self, msg, frame_type=None):
        sys.stdout.write(msg)

    def log_error(self, message_lines):
        sys.stdout.write("\r".join(message_lines) + "\n")


_LOG_SINK = StandardLogSink()
_LOG_FORMAT_JSON = (_getenv("AWS_LAMBDA_LOG_FORMAT") or "").upper() == "JSON"
_raw_level = _getenv("AWS_LAMBDA_LOG_LEVEL")
_LOG_LEVEL = {None: "", "TRACE": "DEBUG"}.get(_raw_level, _raw_level).upper()

_GLOBAL_AWS_REQUEST_ID = None
_GLOBAL_TENANT_ID = None

_RESERVED_FIELDS = frozenset(
    (
        "name", "msg", "args", "levelname", "levelno", "pathname", "filename", "module",
        "exc_info", "exc_text", "stack_info", "lineno", "funcName", "created", "msecs",
        "relativeCreated", "thread", "threadName", "processName", "process",
        "aws_request_id", "tenant_id", "_frame_type",
    )
)
_DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # awslambdaric 4.2.2 JSON-mode timestamps
_JSON_FRAME_TYPES = {0: 0xA55A0002, 10: 0xA55A000A, 20: 0xA55A000E, 30: 0xA55A0012, 40: 0xA55A0016, 50: 0xA55A001A}


def _format_log_level(record):
    return min(50, max(0, record.levelno)) // 10 * 10


def _setup_logging(logging):
    """awslambdaric's _setup_logging, run right after `logging` is first imported."""
    logging.Formatter.converter = _time.gmtime
    logger = logging.getLogger()

    class LambdaLoggerHandler(logging.Handler):
        def __init__(self, log_sink):
            logging.Handler.__init__(self)
            self.log_sink = log_sink

        def emit(self, record):
            self.log_sink.log(self.format(record))

    class LambdaLoggerHandlerWithFrameType(logging.Handler):
        def __init__(self, log_sink):
            logging.Handler.__init__(self)
            self.log_sink = log_sink

        def emit(self, record):
            self.log_sink.log(self.format(record))

    class LambdaLoggerFilter(logging.Filter):
        def filter(self, record):
            record.aws_request_id = _GLOBAL_AWS_REQUEST_ID or ""
            record.tenant_id = _GLOBAL_TENANT_ID
            return True

    if _LOG_FORMAT_JSON or _LOG_LEVEL:
        handler = LambdaLoggerHandlerWithFrameType(_LOG_SINK)
    else:
        handler = LambdaLoggerHandler(_LOG_SINK)

    if _LOG_FORMAT_JSON:

        class JsonFormatter(logging.Formatter):
            def __init__(self):
                logging.Formatter.__init__(self, datefmt=_DATETIME_FORMAT)

            def format(self, record):
                record.levelno = _format_log_level(record)
                record.levelname = logging.getLevelName(record.levelno)
                frame = _JSON_FRAME_TYPES.get(record.levelno, _JSON_FRAME_TYPES[0])
                record._frame_type = frame.to_bytes(4, "big")
                exc_info = record.exc_info
                if exc_info:
                    import traceback

                    stack = traceback.format_tb(exc_info[2])
                    etype, emsg = exc_info[0].__name__, str(exc_info[1])
                    location = "%s:%s:%s" % (record.pathname, record.funcName, record.lineno)
                else:
                    stack = etype = emsg = location = None
                msg = record.msg
                result = {
                    "timestamp": self.formatTime(record, self.datefmt),
                    "level": record.levelname,
                    "message": msg if isinstance(msg, dict) and not record.args else record.getMessage(),
                    "logger": record.name,
                    "stackTrace": stack,
                    "errorType": etype,
                    "errorMessage": emsg,
                    "requestId": getattr(record, "aws_request_id", None),
                    "location": location,
                }
                if getattr(record, "tenant_id", None) is not None:
                    result["tenantId"] = record.tenant_id
                result.update(
                    (k, v)
                    for k, v in record.__dict__.items()
                    if k not in _RESERVED_FIELDS and k not in result
                )
                result = {k: v for k, v in result.items() if v is not None}
                return _dumps_log(result) + "\n"

        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter(
                "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
                "%Y-%m-%dT%H:%M:%S",
            )
        )
    if _LOG_LEVEL in logging._nameToLevel:
        logger.setLevel(_LOG_LEVEL)
    handler.addFilter(LambdaLoggerFilter())
    logger.addHandler(handler)


class _LoggingHook(object):
    """Meta path finder: lets `logging` load normally, then configures it (once)."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name != "logging":
            return None
        meta = sys.meta_path
        start = meta.index(_LoggingHook) + 1 if _LoggingHook in meta else 0
        for finder in meta[start:]:
            find_spec = getattr(finder, "find_spec", None)
            spec = find_spec(name, path, target) if find_spec is not None else None
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        exec_module = getattr(loader, "exec_module", None)
        if exec_module is None or isinstance(loader, type):
            return None

        def exec_and_setup(module):
            exec_module(module)
            if _LoggingHook in sys.meta_path:
                sys.meta_path.remove(_LoggingHook)
                _setup_logging(module)

        try:
            loader.exec_module = exec_and_setup
        except (AttributeError, TypeError):
            return None
        return spec

    @staticmethod
    def invalidate_caches():
        pass


def _get_logging():
    if "logging" not in sys.modules:
        import logging  # noqa: F401  (the hook configures it)
    return sys.modules["logging"]


def _install_logging_hook():
    if "logging" in sys.modules:
        _setup_logging(sys.modules["logging"])
    else:
        sys.meta_path.insert(0, _LoggingHook)


# ------------------------------------------------------------------------ context


class LambdaContext(object):
    def __init__(
        self,
        invoke_id,
        client_context,
        cognito_identity,
        epoch_deadline_time_in_ms,
        invoked_function_arn=None,
        tenant_id=None,
    ):
        env = _environ
        self.aws_request_id = invoke_id
        self.log_group_name = _envstr(env.get(b"AWS_LAMBDA_LOG_GROUP_NAME"))
        self.log_stream_name = _envstr(env.get(b"AWS_LAMBDA_LOG_STREAM_NAME"))
        self.function_name = _envstr(env.get(b"AWS_LAMBDA_FUNCTION_NAME"))
        self.memory_limit_in_mb = _envstr(env.get(b"AWS_LAMBDA_FUNCTION_MEMORY_SIZE"))
        self.function_version = _envstr(env.get(b"AWS_LAMBDA_FUNCTION_VERSION"))
        self.invoked_function_arn = invoked_function_arn
        self.tenant_id = tenant_id
        self._w3c_fields = self._extract_and_strip_w3c(client_context)

        self.client_context = make_obj_from_dict(ClientContext, client_context)
        if self.client_context is not None:
            self.client_context.client = make_obj_from_dict(Client, self.client_context.client)

        self.identity = make_obj_from_dict(CognitoIdentity, {})
        if cognito_identity is not None:
            self.identity.cognito_identity_id = cognito_identity.get("cognitoIdentityId")
            self.identity.cognito_identity_pool_id = cognito_identity.get("cognitoIdentityPoolId")

        self._epoch_deadline_time_in_ms = epoch_deadline_time_in_ms

    def get_remaining_time_in_millis(self):
        delta_ms = self._epoch_deadline_time_in_ms - int(_time.time() * 1000)
        return delta_ms if delta_ms > 0 else 0

    def w3c(self):
        return dict(self._w3c_fields)

    @staticmethod
    def _extract_and_strip_w3c(client_context):
        if not isinstance(client_context, dict) or "w3c" not in client_context:
            return {}
        raw = client_context.pop("w3c")
        if not isinstance(raw, dict):
            return {}
        fields = {}
        for key in ("traceparent", "tracestate", "baggage"):
            value = raw.get(key)
            if isinstance(value, str):
                fields[key] = value
        return fields

    def log(self, msg):
        logging = sys.modules.get("logging")
        if logging is not None:
            for handler in logging.getLogger().handlers:
                if hasattr(handler, "log_sink"):
                    handler.log_sink.log(str(msg))
                    return
        sys.stdout.write(str(msg))

    def __repr__(self):
        return (
            "%s([aws_request_id=%s,log_group_name=%s,log_stream_name=%s,function_name=%s,"
            "memory_limit_in_mb=%s,function_version=%s,invoked_function_arn=%s,"
            "client_context=%s,identity=%s,tenant_id=%s])"
            % (
                self.__class__.__name__, self.aws_request_id, self.log_group_name,
                self.log_stream_name, self.function_name, self.memory_limit_in_mb,
                self.function_version, self.invoked_function_arn, self.client_context,
                self.identity, self.tenant_id,
            )
        )


def _envstr(v):
    return None if v is None else v.decode(_FSENC, "surrogateescape")


class CognitoIdentity(object):
    __slots__ = ["cognito_identity_id", "cognito_identity_pool_id"]

    def __repr__(self):
        return "%s([cognito_identity_id=%s,cognito_identity_pool_id=%s])" % (
            self.__class__.__name__, self.cognito_identity_id, self.cognito_identity_pool_id,
        )


class Client(object):
    __slots__ = [
        "installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name",
    ]

    def __repr__(self):
        return (
            "%s([installation_id=%s,app_title=%s,app_version_name=%s,app_version_code=%s,"
            "app_package_name=%s])"
            % (
                self.__class__.__name__, self.installation_id, self.app_title,
                self.app_version_name, self.app_version_code, self.app_package_name,
            )
        )


class ClientContext(object):
    __slots__ = ["custom", "env", "client"]

    def __repr__(self):
        return "%s([custom=%s,env=%s,client=%s])" % (
            self.__class__.__name__, self.custom, self.env, self.client,
        )


def make_obj_from_dict(_class, _dict, fields=None):
    if _dict is None:
        return None
    obj = _class()
    for field in _class.__slots__:
        setattr(obj, field, _dict.get(field, None))
    return obj


def parse_json_header(header, name):
    try:
        return _loads_std(header)
    except Exception as e:
        raise FaultException(
            FaultException.LAMBDA_CONTEXT_UNMARSHAL_ERROR,
            "Unable to parse {} JSON: {}".format(name, str(e)),
            None,
        )


# ------------------------------------------------------------------------ HTTP client


def _header_value(value):
    b = value.encode("utf-8", "backslashreplace")
    if b"\r" in b or b"\n" in b:
        b = b.replace(b"\r", b" ").replace(b"\n", b" ")
    return b


class LambdaRuntimeClientError(Exception):
    def __init__(self, endpoint, response_code, response_body):
        self.endpoint = endpoint
        self.response_code = response_code
        self.response_body = response_body
        Exception.__init__(
            self,
            "Request to Lambda Runtime '%s' endpoint failed. Reason: '%s'. Response body: '%s'"
            % (endpoint, response_code, response_body),
        )


class _NoResponse(Exception):
    """The connection closed before any byte of a response arrived (safe to retry)."""


# Tells ledge that a GET /next follows this post on the connection, so it may answer the
# post together with the next event (one wake-up per invocation). Other servers ignore it.
_NEXT_PIPELINED = b"Ledge-Next-Pipelined: 1\r\n"


class LambdaRuntimeClient(object):
    """Minimal HTTP/1.1 keep-alive client over one _socket connection."""

    def __init__(self, address, unix_name=None):
        # ledge's private Unix socket (abstract namespace), when it offers one.
        self._unix = ("\0" + unix_name) if unix_name else None
        host, sep, port = address.rpartition(":")
        if not sep or not port.isdigit():
            host, port = address, "80"
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        self._family = _socket.AF_INET6 if ":" in host else _socket.AF_INET
        self._addr = (host, int(port))
        self._sock = None
        self._poll = None
        self._buf = b""
        # True while a `GET /next` sent behind the last response (HTTP/1.1 pipelining)
        # awaits its answer on the open connection: one send per invocation, not two.
        self._next_sent = False
        vi = sys.version_info
        ua = "aws-lambda-python/%d.%d.%d-ledge" % (vi[0], vi[1], vi[2])
        self._common = ("Host: %s\r\nUser-Agent: %s\r\nAccept: */*\r\n" % (address, ua)).encode("latin-1")
        self._next_req = b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n" + self._common + b"\r\n"

    def _connect(self):
        if self._unix is not None:
            sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
            try:
                sock.connect(self._unix)
            except OSError:
                sock.close()
                self._unix = None  # fall back to the loopback address for good
            else:
                self._sock = sock
                self._buf = b""
                # Block in poll(POLLIN), not in recv: a task asleep in recv on a Unix
                # stream socket is also woken each time the server reads what it sent
                # (the write-space wakeup), a wasted wakeup per invocation; poll's
                # wait ignores those.
                self._poll = _select.poll()
                self._poll.register(sock, _select.POLLIN)
                return sock
        if self._family == _socket.AF_INET and self._addr[0] not in ("", "localhost") and not self._addr[0][:1].isdigit():
            family, _, _, _, addr = _socket.getaddrinfo(self._addr[0], self._addr[1], 0, _socket.SOCK_STREAM)[0]
        else:
            family, addr = self._family, self._addr
        sock = _socket.socket(family, _socket.SOCK_STREAM)
        try:
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
            sock.connect(addr)
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        self._buf = b""
        return sock

    def close(self):
        sock, self._sock = self._sock, None
        self._poll = None
        self._buf = b""
        self._next_sent = False
        if sock is not None:
            sock.close()

    def request(self, data):
        """Send one request (head+body bytes); return (status, headers, body). A request is
        re-sent once on a fresh connection when the old one turns out to be closed (send
        failed, or EOF/reset before any byte of the response)."""
        for attempt in (0, 1):
            try:
                sock = self._sock if self._sock is not None else self._connect()
                sock.sendall(data)
            except ConnectionError:
                self.close()
                if attempt:
                    raise
                continue
            try:
                return self._read_response(sock)
            except _NoResponse:
                self.close()
                if attempt:
                    raise ConnectionError("Runtime API closed the connection")
            except BaseException:
                self.close()
                raise

    def _read_response(self, sock):
        buf = self._buf
        got_any = bool(buf)
        while True:
            i = buf.find(b"\r\n\r\n")
            if i >= 0:
                break
            try:
                if self._poll is not None:
                    self._poll.poll()
                chunk = sock.recv(65536)
            except ConnectionError:
                if got_any:
                    raise
                raise _NoResponse()
            if not chunk:
                if got_any:
                    raise ConnectionError("Runtime API closed the connection mid-response")
                raise _NoResponse()
            got_any = True
            buf += chunk
        lines = buf[:i].decode("utf-8", "surrogateescape").split("\r\n")
        rest = buf[i + 4:]
        status = int(lines[0].split(None, 2)[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        close = headers.get("connection", "").lower() == "close"
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body, rest = self._read_chunked(sock, rest)
        elif "content-length" in headers:
            n = int(headers["content-length"])
            have = len(rest)
            if have >= n:
                body, rest = rest[:n], rest[n:]
            else:
                ba = bytearray(n)
                ba[:have] = rest
                mv = memoryview(ba)
                while have < n:
                    r = sock.recv_into(mv[have:])
                    if not r:
                        raise ConnectionError("Runtime API closed the connection mid-body")
                    have += r
                body, rest = ba, b""
        elif status in (204, 304) or status < 200:
            body = b""
        else:  # no framing: the body runs to EOF
            parts = [rest]
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                parts.append(chunk)
            body, rest, close = b"".join(parts), b"", True
        self._buf = rest
        if close:
            self.close()
        return status, headers, body

    def _read_chunked(self, sock, buf):
        parts = []
        while True:
            while b"\r\n" not in buf:
                buf = self._more(sock, buf)
            i = buf.index(b"\r\n")
            size = int(buf[:i].split(b";", 1)[0].strip(), 16)
            buf = buf[i + 2:]
            if size == 0:
                while True:  # trailers, up to the empty line
                    while b"\r\n" not in buf:
                        buf = self._more(sock, buf)
                    i = buf.index(b"\r\n")
                    line, buf = buf[:i], buf[i + 2:]
                    if not line:
                        return b"".join(parts), buf
            while len(buf) < size + 2:
                buf = self._more(sock, buf)
            parts.append(buf[:size])
            buf = buf[size + 2:]

    @staticmethod
    def _more(sock, buf):
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("Runtime API closed the connection mid-body")
        return buf + chunk

    def _post(self, path, body, extra_headers=b"", then_next=False):
        head = b"POST %s HTTP/1.1\r\n%s%sContent-Length: %d\r\n\r\n" % (
            path, self._common, extra_headers, len(body),
        )
        data = head + body
        if then_next:
            data += self._next_req
        result = self.request(data)
        # The next request went out with this one; its answer waits on the connection
        # unless the server closed it after answering.
        self._next_sent = then_next and self._sock is not None
        return result

    # -- Runtime API operations
    def wait_next_invocation(self):
        if self._next_sent:
            self._next_sent = False
            try:
                status, headers, body = self._read_response(self._sock)
            except (_NoResponse, ConnectionError):
                self.close()
                status, headers, body = self.request(self._next_req)
        else:
            status, headers, body = self.request(self._next_req)
        if status != 200:
            raise RuntimeError("Failed to get next")
        return headers, body

    def post_invocation_result(self, invoke_id, result_data, content_type="application/json"):
        if not isinstance(result_data, (bytes, bytearray)):
            result_data = result_data.encode("utf-8")
        status, _, _ = self._post(
            b"/2018-06-01/runtime/invocation/%s/response" % invoke_id.encode("utf-8"),
            result_data,
            b"Content-Type: %s\r\n%s" % (content_type.encode("latin-1"), _NEXT_PIPELINED),
            True,
        )
        if not 200 <= status < 300:
            raise RuntimeError("Failed to post invocation response")

    def post_invocation_error(self, invoke_id, error_response_data, xray_fault, error_type):
        xray = _header_value(xray_fault)
        extra = b"Content-Type: application/json\r\nLambda-Runtime-Function-Error-Type: %s\r\n%s" % (
            _header_value(error_type), _NEXT_PIPELINED,
        )
        if xray and len(xray) < 1024 * 1024:  # awslambdaric drops the cause at >= 1 MiB
            extra += b"Lambda-Runtime-Function-XRay-Error-Cause: %s\r\n" % xray
        status, _, _ = self._post(
            b"/2018-06-01/runtime/invocation/%s/error" % invoke_id.encode("utf-8"),
            error_response_data.encode("utf-8"),
            extra,
            True,
        )
        if not 200 <= status < 300:
            raise RuntimeError("Failed to post invocation error")

    def post_init_error(self, error_response_data, error_type_override=None):
        endpoint = "/2018-06-01/runtime/init/error"
        error_type = error_type_override or error_response_data["errorType"]
        status, _, body = self._post(
            endpoint.encode("latin-1"),
            _to_json(error_response_data).encode("utf-8"),
            b"Lambda-Runtime-Function-Error-Type: %s\r\n" % _header_value(error_type),
        )
        if status != 202:
            raise LambdaRuntimeClientError(endpoint, status, bytes(body))


# ------------------------------------------------------------------------ handler


def _import_module(name):
    """importlib.import_module(name) without importing the importlib package (0.3 ms): the
    frame it would add to init-error traces is re-inserted by _user_frames."""
    if name.startswith("."):
        import importlib

        return importlib.import_module(name)
    return sys.modules["_frozen_importlib"]._gcd_import(name)


def _import_module_frame():
    """(filename, lineno, name, line) of importlib.import_module's call to _gcd_import."""
    import importlib
    import linecache

    code = importlib.import_module.__code__
    lineno = code.co_firstlineno
    while True:
        line = linecache.getline(code.co_filename, lineno)
        if not line:
            return None
        if "_gcd_import(" in line:
            return (code.co_filename, lineno, "import_module", line.strip())
        lineno += 1


def _get_handler(handler):
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as e:
        raise FaultException(
            FaultException.MALFORMED_HANDLER_NAME, "Bad handler '{}': {}".format(handler, str(e))
        )
    try:
        if modname.split(".")[0] in sys.builtin_module_names:
            raise FaultException(
                FaultException.BUILT_IN_MODULE_CONFLICT,
                "Cannot use built-in module {} as a handler module".format(modname),
            )
        m = _import_module(modname.replace("/", "."))
    except ImportError as e:
        raise FaultException(
            FaultException.IMPORT_MODULE_ERROR,
            "Unable to import module '{}': {}".format(modname, str(e)),
        )
    except SyntaxError as e:
        trace = ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, e.text)]
        raise FaultException(
            FaultException.USER_CODE_SYNTAX_ERROR,
            "Syntax error in module '{}': {}".format(modname, str(e)),
            trace,
        )
    try:
        return getattr(m, fname)
    except AttributeError:
        raise FaultException(
            FaultException.HANDLER_NOT_FOUND,
            "Handler '{}' missing on module '{}'".format(fname, modname),
            None,
        )


def handle_event_request(client, request_handler, invoke_id, event_body, content_type,
                         client_context_json, cognito_identity_json, invoked_function_arn,
                         epoch_deadline_time_in_ms, tenant_id, log_sink):
    error_result = None
    try:
        client_context = None
        if client_context_json:
            client_context = parse_json_header(client_context_json, "Client Context")
        cognito_identity = None
        if cognito_identity_json:
            cognito_identity = parse_json_header(cognito_identity_json, "Cognito Identity")
        lambda_context = LambdaContext(
            invoke_id, client_context, cognito_identity, epoch_deadline_time_in_ms,
            invoked_function_arn, tenant_id,
        )
        if content_type != "application/json":
            event = bytes(event_body)
        else:
            try:
                event = _loads_event(event_body)
            except Exception as e:
                raise FaultException(
                    FaultException.UNMARSHAL_ERROR, "Unable to unmarshal input: {}".format(str(e)), None
                )
        response = request_handler(event, lambda_context)
        if isinstance(response, bytes):
            result, result_content_type = response, "application/unknown"
        else:
            try:
                result, result_content_type = _to_json(response), "application/json"
            except Exception as e:
                raise FaultException(
                    FaultException.MARSHAL_ERROR, "Unable to marshal response: {}".format(str(e)), None
                )
    except FaultException as e:
        xray_fault = make_xray_fault("LambdaValidationError", e.msg, _posix.getcwd(), [])
        error_result = make_error(e.msg, e.exception_type, e.trace, invoke_id)
    except Exception:
        etype, value, tb = sys.exc_info()
        tb_tuples, traceback = _user_frames(tb)
        del tb
        xray_fault = make_xray_fault(etype.__name__, str(value), _posix.getcwd(), tb_tuples)
        error_result = make_error(str(value), etype.__name__, traceback.format_list(tb_tuples), invoke_id)

    if error_result is not None:
        log_error(error_result, log_sink)
        client.post_invocation_error(
            invoke_id, _to_json(error_result), _to_json(xray_fault), error_result["errorType"]
        )
    else:
        client.post_invocation_result(invoke_id, result, result_content_type)


# ------------------------------------------------------------------------ start-up


class Quitter(object):
    """site's exit()/quit() (``-S`` skips site, which would add them to builtins)."""

    def __init__(self, name, eof):
        self.name = name
        self.eof = eof

    def __repr__(self):
        return "Use %s() or %s to exit" % (self.name, self.eof)

    def __call__(self, code=None):
        try:
            sys.stdin.close()
        except BaseException:
            pass
        raise SystemExit(code)


class _LazySiteBuiltin(object):
    """help/copyright/credits/license, built by _sitebuiltins on first use (it imports os)."""

    def __init__(self, name):
        self._name = name
        self._obj = None

    def _get(self):
        if self._obj is None:
            import _sitebuiltins
            import os

            if self._name == "help":
                self._obj = _sitebuiltins._Helper()
            elif self._name == "copyright":
                self._obj = _sitebuiltins._Printer("copyright", sys.copyright)
            elif self._name == "credits":
                self._obj = _sitebuiltins._Printer(
                    "credits",
                    "    Thanks to CWI, CNRI, BeOpen.com, Zope Corporation and a cast of thousands\n"
                    "    for supporting Python development.  See www.python.org for more information.",
                )
            else:
                here = getattr(sys, "_stdlib_dir", None) or os.path.dirname(os.__file__)
                self._obj = _sitebuiltins._Printer(
                    "license", "See https://www.python.org/psf/license/",
                    ["LICENSE.txt", "LICENSE"], [os.path.join(here, os.pardir), here, os.curdir],
                )
        return self._obj

    def __repr__(self):
        return repr(self._get())

    def __call__(self, *args, **kwargs):
        return self._get()(*args, **kwargs)


def _setup_builtins():
    import builtins

    eof = "Ctrl-D (i.e. EOF)"
    builtins.quit = Quitter("quit", eof)
    builtins.exit = Quitter("exit", eof)
    for name in ("help", "copyright", "credits", "license"):
        setattr(builtins, name, _LazySiteBuiltin(name))


def _setup_path():
    site_dirs = _environ.pop(b"_LEDGE_SITE_DIRS", None)
    if site_dirs is not None:
        _posix.unsetenv(b"_LEDGE_SITE_DIRS")
    opt = _environ.pop(b"_LEDGE_OPT_DIR", None)
    if opt is not None:
        _posix.unsetenv(b"_LEDGE_OPT_DIR")
    dec = lambda b: b.decode(_FSENC, "surrogateescape")  # noqa: E731
    opt = dec(opt) if opt else "/opt"
    task_root = _getenv("LAMBDA_TASK_ROOT") or "/var/task"
    rest = sys.path[:]
    if rest and not getattr(sys.flags, "safe_path", False):
        del rest[0]  # the bootstrap's own directory (or '' for -c)
    pyver = "python%d.%d" % sys.version_info[:2]
    extra = [d for d in dec(site_dirs).split(":") if d] if site_dirs else []
    sys.path[:] = [
        task_root,
        opt.rstrip("/") + "/python/lib/" + pyver + "/site-packages",
        opt.rstrip("/") + "/python",
    ] + rest + extra


def _log_preview_runtime_warning():
    if _EXECUTION_ENV == "AWS_Lambda_python3.15" and not _getenv("LAMBDA_DISABLE_PREVIEW_WARN", ""):
        region = _getenv("AWS_REGION", "")
        dom = "docs.amazonaws.cn" if region.startswith("cn-") else "docs.aws.amazon.com"
        _get_logging().warning(
            "LAMBDA_WARNING: This is a preview runtime version and should not be used for production "
            "workloads. For further information and to provide feedback, see "
            "https://%s/lambda/latest/dg/lambda-runtimes.html\r" % dom
        )


LAMBDA_UNHANDLED_EXCEPTION_WARNING_MESSAGE = (
    "LAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in the function code. "
    "However, in rare cases, a Lambda runtime update can cause unexpected function behavior. For "
    "functions using managed runtimes, runtime updates can be triggered by a function change, or "
    "can be applied automatically. To determine if the runtime has been updated, check the runtime "
    "version in the INIT_START log entry. If this error correlates with a change in the runtime "
    "version, you may be able to mitigate this error by temporarily rolling back to the previous "
    "runtime version. For more information, see "
    "https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html\r"
)


def run(handler, client):
    global _GLOBAL_AWS_REQUEST_ID, _GLOBAL_TENANT_ID
    sys.stdout = Unbuffered(sys.stdout)
    sys.stderr = Unbuffered(sys.stderr)
    log_sink = _LOG_SINK
    try:
        _install_logging_hook()
        _log_preview_runtime_warning()
        request_handler = _get_handler(handler)
    except Exception as e:
        if isinstance(e, FaultException):
            error_result = make_error(e.msg, e.exception_type, e.trace)
        else:
            error_result = build_fault_result(sys.exc_info(), None)
        _get_logging().warning(LAMBDA_UNHANDLED_EXCEPTION_WARNING_MESSAGE)
        log_error(error_result, log_sink)
        client.post_init_error(error_result)
        sys.exit(1)

    trace_key = b"_X_AMZN_TRACE_ID"
    putenv = _posix.putenv
    while True:
        headers, body = client.wait_next_invocation()
        get = headers.get
        invoke_id = get("lambda-runtime-aws-request-id", "")
        tenant_id = get("lambda-runtime-aws-tenant-id") or None
        _GLOBAL_AWS_REQUEST_ID = invoke_id
        _GLOBAL_TENANT_ID = tenant_id

        trace_id = get("lambda-runtime-trace-id")
        if trace_id:
            v = trace_id.encode(_FSENC, "surrogateescape")
            putenv(trace_key, v)
            _environ[trace_key] = v
        elif trace_key in _environ:
            _unsetenv(trace_key)

        deadline = get("lambda-runtime-deadline-ms")
        try:
            deadline = int(deadline) if deadline else 0
        except ValueError:
            deadline = 0
        handle_event_request(
            client,
            request_handler,
            invoke_id,
            body,
            get("content-type") or None,
            get("lambda-runtime-client-context") or None,
            get("lambda-runtime-cognito-identity") or None,
            get("lambda-runtime-invoked-function-arn", ""),
            deadline,
            tenant_id,
            log_sink,
        )


def main():
    """Entry point (see the module docstring for the launch command)."""
    if sys.argv and sys.argv[0] == "-c":
        sys.argv[:] = [__file__]
    _setup_path()
    _setup_builtins()
    unix_name = _environ.pop(b"_LEDGE_RUNTIME_SOCKET", None)
    if unix_name is not None:
        _posix.unsetenv(b"_LEDGE_RUNTIME_SOCKET")
        unix_name = unix_name.decode(_FSENC, "surrogateescape")
    client = LambdaRuntimeClient(
        _getenv("AWS_LAMBDA_RUNTIME_API") or "127.0.0.1:9001", unix_name
    )
    run(_getenv("_HANDLER", ""), client)


if __name__ == "__main__":
    main()
