'use strict';
/**
 * ledge managed Node.js runtime: a single-file Lambda Runtime API client that uses only
 * Node's built-in modules.
 *
 * Launch (cwd = LAMBDA_TASK_ROOT), as AWS's /var/runtime/bootstrap does:
 *     node --expose-gc --max-http-header-size 81920 [--max-semi-space-size=N
 *          --max-old-space-size=M] <LAMBDA_RUNTIME_DIR>/node/bootstrap.cjs
 * with NODE_PATH set as AWS sets it (layers' nodejs/nodeNN/node_modules and
 * nodejs/node_modules, then the runtime dir and the task root).
 *
 * Environment: the AWS variables (_HANDLER, AWS_LAMBDA_RUNTIME_API, LAMBDA_TASK_ROOT,
 * LAMBDA_RUNTIME_DIR, AWS_LAMBDA_FUNCTION_*, AWS_LAMBDA_LOG_*, ...). Nothing private.
 *
 * Observable behaviour (handler resolution, error types and bodies, the console patch and
 * its log lines, the context object, callback semantics, callbackWaitsForEmptyEventLoop)
 * follows AWS's runtime interface client for Node.js 18-22
 * (aws/aws-lambda-nodejs-runtime-interface-client 3.x: UserFunction.js, Errors.js,
 * LogPatch.js, CallbackContext.js, InvokeContext.js, Runtime.js, RAPIDClient.js). Where
 * AWS's native client posts results synchronously, this one posts them over a keep-alive
 * http.Agent and starts the next poll when Lambda has accepted the result.
 *
 * The file is CommonJS (.cjs) whatever package.json surrounds it, so it never pays for
 * the ES module loader unless the function itself is an ES module.
 */

const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const util = require('node:util');
const { createRequire } = require('node:module');

const API_PREFIX = '/2018-06-01/runtime';
const ERROR_TYPE_HEADER = 'Lambda-Runtime-Function-Error-Type';
const XRAY_CAUSE_HEADER = 'Lambda-Runtime-Function-XRay-Error-Cause';
const XRAY_CAUSE_LIMIT = 1024 * 1024;

const INVOKE_HEADER = {
  ClientContext: 'lambda-runtime-client-context',
  CognitoIdentity: 'lambda-runtime-cognito-identity',
  ARN: 'lambda-runtime-invoked-function-arn',
  AWSRequestId: 'lambda-runtime-aws-request-id',
  DeadlineMs: 'lambda-runtime-deadline-ms',
  XRayTrace: 'lambda-runtime-trace-id',
  TenantId: 'lambda-runtime-aws-tenant-id',
};

// ------------------------------------------------------------------------------ Errors

function _isError(obj) {
  return (
    obj &&
    obj.name &&
    obj.message &&
    obj.stack &&
    typeof obj.name === 'string' &&
    typeof obj.message === 'string' &&
    typeof obj.stack === 'string'
  );
}

function intoError(err) {
  return err instanceof Error ? err : new Error(err);
}

/** The body posted to /error and /init/error: {errorType, errorMessage, trace}. */
function toRapidResponse(error) {
  try {
    if (util.types.isNativeError(error) || _isError(error)) {
      return {
        errorType: error.name?.replaceAll('\x7F', '%7F'),
        errorMessage: error.message?.replaceAll('\x7F', '%7F'),
        trace: error.stack.replaceAll('\x7F', '%7F').split('\n'),
      };
    }
    return {
      errorType: typeof error,
      errorMessage: error.toString(),
      trace: [],
    };
  } catch (_err) {
    return {
      errorType: 'handled',
      errorMessage:
        'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack',
    };
  }
}

function _withEnumerableProperties(error) {
  if (error instanceof Error) {
    const ret = Object.assign(
      { errorType: error.name, errorMessage: error.message, code: error.code },
      error,
    );
    if (typeof error.stack == 'string') {
      ret.stack = error.stack.split('\n');
    }
    return ret;
  }
  return error;
}

/** An error as the text log shows it; always starts with a tab. */
function toFormatted(error) {
  try {
    return '\t' + JSON.stringify(error, (_k, v) => _withEnumerableProperties(v));
  } catch (_err) {
    return '\t' + JSON.stringify(toRapidResponse(error));
  }
}

const Errors = {};
for (const e of [
  class ImportModuleError extends Error {},
  class HandlerNotFound extends Error {},
  class MalformedHandlerName extends Error {},
  class UserCodeSyntaxError extends Error {},
  class MalformedStreamingHandler extends Error {},
  class InvalidStreamingOperation extends Error {},
  class NodeJsExit extends Error {
    constructor() {
      super(
        'The Lambda runtime client detected an unexpected Node.js exit code. This is most commonly caused by a Promise that was never settled. For more information, see https://nodejs.org/docs/latest/api/process.html#exit-codes',
      );
    }
  },
  class UnhandledPromiseRejection extends Error {
    constructor(reason, promise) {
      super(reason);
      this.reason = reason;
      this.promise = promise;
    }
  },
]) {
  Errors[e.name] = e;
  e.prototype.name = `Runtime.${e.name}`;
}

/** The X-Ray cause document AWS's runtime sends with an invocation error. */
function xrayCause(err) {
  try {
    const stack = [];
    if (err && typeof err.stack === 'string') {
      const lines = err.stack.split('\n');
      lines.shift();
      for (const stackLine of lines) {
        let line = stackLine.trim().replace(/\(|\)/g, '');
        line = line.substring(line.indexOf(' ') + 1);
        const label = line.lastIndexOf(' ') >= 0 ? line.slice(0, line.lastIndexOf(' ')) : null;
        const p = (!label ? line : line.slice(line.lastIndexOf(' ') + 1)).split(':');
        stack.push({ path: p[0], line: parseInt(p[1]), label: label || 'anonymous' });
      }
    }
    return JSON.stringify({
      working_directory: process.cwd(),
      exceptions: [{ type: err?.name, message: err?.message, stack }],
      paths: Array.from(new Set(stack.map((e) => e.path))),
    });
  } catch (_err) {
    return '';
  }
}

// ---------------------------------------------------------------------------- Logging

const REQUEST_ID_SYMBOL = Symbol.for('aws.lambda.runtime.requestId');
const setCurrentRequestId = (id) => (global[REQUEST_ID_SYMBOL] = id);
const structuredConsole = {};

const jsonErrorReplacer = (_, value) => {
  if (value instanceof Error) {
    return Object.assign(
      {
        errorType: value?.constructor?.name ?? 'UnknownError',
        errorMessage: value.message,
        stackTrace: typeof value.stack === 'string' ? value.stack.split('\n') : value.stack,
      },
      value,
    );
  }
  return value;
};

function formatJsonMessage(requestId, timestamp, level, ...messageParams) {
  const result = { timestamp, level: level.name, requestId };
  if (messageParams.length === 1) {
    result.message = messageParams[0];
    try {
      return JSON.stringify(result, jsonErrorReplacer);
    } catch (_) {
      result.message = util.format(result.message);
      return JSON.stringify(result);
    }
  }
  result.message = util.format(...messageParams);
  for (const param of messageParams) {
    if (param instanceof Error) {
      result.errorType = param?.constructor?.name ?? 'UnknownError';
      result.errorMessage = param.message;
      result.stackTrace = typeof param.stack === 'string' ? param.stack.split('\n') : [];
      break;
    }
  }
  return JSON.stringify(result);
}

// One record per line on stdout: newlines inside a message become \r, so CloudWatch (and
// ledge's log pipe) keep a multi-line message as one event.
const logTextToStdout = (level, message, ...params) => {
  const line = `${new Date().toISOString()}\t${global[REQUEST_ID_SYMBOL]}\t${level.name}\t${util.format(message, ...params)}`;
  process.stdout.write(line.replace(/\n/g, '\r') + '\n');
};

const logJsonToStdout = (level, message, ...params) => {
  const line = formatJsonMessage(
    global[REQUEST_ID_SYMBOL],
    new Date().toISOString(),
    level,
    message,
    ...params,
  );
  process.stdout.write(line.replace(/\n/g, '\r') + '\n');
};

function patchConsole() {
  const json = process.env['AWS_LAMBDA_LOG_FORMAT']?.toUpperCase() === 'JSON';
  const log = json ? logJsonToStdout : logTextToStdout;
  const NopLog = (_message, ..._params) => {};
  const levels = Object.freeze({
    TRACE: { name: 'TRACE', priority: 1 },
    DEBUG: { name: 'DEBUG', priority: 2 },
    INFO: { name: 'INFO', priority: 3 },
    WARN: { name: 'WARN', priority: 4 },
    ERROR: { name: 'ERROR', priority: 5 },
    FATAL: { name: 'FATAL', priority: 6 },
  });
  const threshold = levels[process.env['AWS_LAMBDA_LOG_LEVEL']?.toUpperCase()] ?? levels.TRACE;
  const at = (level) =>
    level.priority >= threshold.priority ? (msg, ...params) => log(level, msg, ...params) : NopLog;
  console.trace = at(levels.TRACE);
  console.debug = at(levels.DEBUG);
  console.info = at(levels.INFO);
  console.log = console.info;
  console.warn = at(levels.WARN);
  console.error = at(levels.ERROR);
  console.fatal = (msg, ...params) => log(levels.FATAL, msg, ...params);
  structuredConsole.logError = json
    ? (_, err) => console.error(intoError(err))
    : (msg, err) => console.error(msg, toFormatted(intoError(err)));
}

// ------------------------------------------------------------------------- RAPID client

/** Serialises a result as AWS's runtime does (`undefined` becomes `null`). */
function trySerializeResponse(body) {
  try {
    return JSON.stringify(body === undefined ? null : body);
  } catch (_err) {
    throw new Error('Unable to stringify response body');
  }
}

/** A header value Node will send as is (printable ASCII), or undefined. */
function headerSafe(value) {
  return typeof value === 'string' && /^[\x20-\x7e]*$/.test(value) ? value : undefined;
}

class RAPIDClient {
  constructor(hostnamePort) {
    const i = hostnamePort.lastIndexOf(':');
    this.hostname = hostnamePort.slice(0, i);
    this.port = parseInt(hostnamePort.slice(i + 1), 10);
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  }

  /** Sends one request; resolves with {status, headers, body} once the answer is read. */
  _request(method, urlPath, headers, body) {
    return new Promise((resolve, reject) => {
      const req = http.request(
        { hostname: this.hostname, port: this.port, path: urlPath, method, headers, agent: this.agent },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Posts a body Lambda answers with 202; a 5xx means the environment is gone: exit. */
  _post(urlPath, bodyString, headers, callback) {
    const h = { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(bodyString) };
    for (const [k, v] of Object.entries(headers || {})) {
      const safe = headerSafe(v);
      if (safe !== undefined && safe !== '') h[k] = safe;
    }
    this._request('POST', urlPath, h, bodyString).then(
      (res) => {
        if (res.status >= 500) {
          process.exit(1);
        }
        callback();
      },
      // The Runtime API is gone: nothing left to serve.
      () => process.exit(1),
    );
  }

  async nextInvocation() {
    const res = await this._request('GET', `${API_PREFIX}/invocation/next`, undefined, undefined);
    if (res.status !== 200) {
      // 500: the platform wants this runtime gone; anything else is a bug somewhere.
      process.exit(1);
    }
    return { bodyJson: res.body.toString('utf8'), headers: res.headers };
  }

  postInvocationResponse(response, id, callback) {
    const body = trySerializeResponse(response);
    this._post(`${API_PREFIX}/invocation/${encodeURIComponent(id)}/response`, body, {}, callback);
  }

  postInvocationError(error, id, callback) {
    const response = toRapidResponse(error);
    const body = trySerializeResponse(response);
    const xray = xrayCause(error);
    const headers = { [ERROR_TYPE_HEADER]: response.errorType };
    if (Buffer.byteLength(xray) < XRAY_CAUSE_LIMIT) headers[XRAY_CAUSE_HEADER] = xray;
    this._post(`${API_PREFIX}/invocation/${encodeURIComponent(id)}/error`, body, headers, callback);
  }

  postInitError(error, callback) {
    const response = toRapidResponse(error);
    this._post(
      `${API_PREFIX}/init/error`,
      trySerializeResponse(response),
      { [ERROR_TYPE_HEADER]: response.errorType },
      callback,
    );
  }
}

// ------------------------------------------------------------------------ User function

const FUNCTION_EXPR = /^([^.]*)\.(.*)$/;
const RELATIVE_PATH_SUBSTRING = '..';
const HANDLER_STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');

// Requires made on behalf of the function come from AWS's runtime entry point, so a
// missing module's "Require stack" ends in <LAMBDA_RUNTIME_DIR>/index.mjs as on Lambda.
const userRequire = createRequire(
  path.join(process.env.LAMBDA_RUNTIME_DIR || path.dirname(__dirname), 'index.mjs'),
);

function _moduleRootAndHandler(fullHandlerString) {
  const handlerString = path.basename(fullHandlerString);
  const moduleRoot = fullHandlerString.substring(0, fullHandlerString.indexOf(handlerString));
  return [moduleRoot, handlerString];
}

function _splitHandlerString(handler) {
  const match = handler.match(FUNCTION_EXPR);
  if (!match || match.length != 3) {
    throw new Errors.MalformedHandlerName('Bad handler');
  }
  return [match[1], match[2]];
}

function _resolveHandler(object, nestedProperty) {
  return nestedProperty.split('.').reduce((nested, key) => nested && nested[key], object);
}

function _tryRequireFile(file, extension) {
  const p = file + (extension || '');
  return fs.existsSync(p) ? userRequire(p) : undefined;
}

async function _tryAwaitImport(file, extension) {
  const p = file + (extension || '');
  return fs.existsSync(p) ? await import(p) : undefined;
}

function _hasFolderPackageJsonTypeModule(folder) {
  if (folder.endsWith('/node_modules')) {
    return false;
  }
  const pj = path.join(folder, '/package.json');
  if (fs.existsSync(pj)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(pj));
      if (pkg) {
        return pkg.type === 'module';
      }
    } catch (e) {
      console.warn(
        `${pj} cannot be read, it will be ignored for ES module detection purposes.`,
        e,
      );
      return false;
    }
  }
  if (folder === '/') {
    return false;
  }
  return _hasFolderPackageJsonTypeModule(path.resolve(folder, '..'));
}

async function _tryRequire(appRoot, moduleRoot, module) {
  const lambdaStylePath = path.resolve(appRoot, moduleRoot, module);
  const extensionless = _tryRequireFile(lambdaStylePath);
  if (extensionless) {
    return extensionless;
  }
  const pjHasModule = _hasFolderPackageJsonTypeModule(
    path.resolve(path.dirname(lambdaStylePath)),
  );
  if (!pjHasModule) {
    const loaded = _tryRequireFile(lambdaStylePath, '.js');
    if (loaded) {
      return loaded;
    }
  }
  const loaded =
    (pjHasModule && (await _tryAwaitImport(lambdaStylePath, '.js'))) ||
    (await _tryAwaitImport(lambdaStylePath, '.mjs')) ||
    _tryRequireFile(lambdaStylePath, '.cjs');
  if (loaded) {
    return loaded;
  }
  // Last resort, as on Lambda: Node's own resolution from the task root (NODE_PATH
  // includes it), which also finds packages under node_modules.
  const nodeStylePath = userRequire.resolve(module, { paths: [appRoot, moduleRoot] });
  return userRequire(nodeStylePath);
}

async function _loadUserApp(appRoot, moduleRoot, module) {
  try {
    return await _tryRequire(appRoot, moduleRoot, module);
  } catch (e) {
    if (e instanceof SyntaxError) {
      throw new Errors.UserCodeSyntaxError(e);
    } else if (e.code !== undefined && e.code === 'MODULE_NOT_FOUND') {
      throw new Errors.ImportModuleError(e);
    } else {
      throw e;
    }
  }
}

async function loadHandler(appRoot, fullHandlerString) {
  if (fullHandlerString.includes(RELATIVE_PATH_SUBSTRING)) {
    throw new Errors.MalformedHandlerName(
      `'${fullHandlerString}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  const [moduleRoot, moduleAndHandler] = _moduleRootAndHandler(fullHandlerString);
  const [module, handlerPath] = _splitHandlerString(moduleAndHandler);
  const userApp = await _loadUserApp(appRoot, moduleRoot, module);
  const handlerFunc = _resolveHandler(userApp, handlerPath);
  if (!handlerFunc) {
    throw new Errors.HandlerNotFound(`${fullHandlerString} is undefined or not exported`);
  }
  if (typeof handlerFunc !== 'function') {
    throw new Errors.HandlerNotFound(`${fullHandlerString} is not a function`);
  }
  if (handlerFunc[HANDLER_STREAMING] !== undefined && handlerFunc[HANDLER_STREAMING] !== false) {
    throw new Errors.MalformedStreamingHandler(
      'Response streaming handlers are not supported by ledge yet.',
    );
  }
  return handlerFunc;
}

function _isAsync(handler) {
  try {
    return handler?.constructor?.name === 'AsyncFunction';
  } catch (_error) {
    return false;
  }
}

// ------------------------------------------------------------------- Invocation context

const LISTENER_SYMBOL = Symbol.for('aws.lambda.beforeExit');
const NO_OP_LISTENER = () => {};
const BeforeExitListener = {
  invoke: () => global[LISTENER_SYMBOL](),
  reset: () => (global[LISTENER_SYMBOL] = NO_OP_LISTENER),
  set: (listener) => (global[LISTENER_SYMBOL] = listener),
};

function _parseJson(jsonString, name) {
  if (jsonString === undefined) {
    return undefined;
  }
  try {
    return JSON.parse(jsonString);
  } catch (err) {
    throw new Error(`Cannot parse ${name} as json: ${err.toString()}`);
  }
}

class InvokeContext {
  constructor(headers) {
    this.headers = headers; // Node gives header names in lower case.
  }

  get invokeId() {
    const id = this.headers[INVOKE_HEADER.AWSRequestId];
    if (!id) throw new Error('invocation id is missing or invalid');
    return id;
  }

  updateLoggingContext() {
    setCurrentRequestId(this.invokeId);
  }

  attachEnvironmentData(callbackContext) {
    const trace = this.headers[INVOKE_HEADER.XRayTrace];
    if (trace) {
      process.env['_X_AMZN_TRACE_ID'] = trace;
    } else {
      delete process.env['_X_AMZN_TRACE_ID'];
    }
    const deadline = Number(this.headers[INVOKE_HEADER.DeadlineMs]);
    return Object.assign(
      callbackContext,
      {
        functionVersion: process.env['AWS_LAMBDA_FUNCTION_VERSION'],
        functionName: process.env['AWS_LAMBDA_FUNCTION_NAME'],
        memoryLimitInMB: process.env['AWS_LAMBDA_FUNCTION_MEMORY_SIZE'],
        logGroupName: process.env['AWS_LAMBDA_LOG_GROUP_NAME'],
        logStreamName: process.env['AWS_LAMBDA_LOG_STREAM_NAME'],
      },
      {
        clientContext: _parseJson(this.headers[INVOKE_HEADER.ClientContext], 'ClientContext'),
        identity: _parseJson(this.headers[INVOKE_HEADER.CognitoIdentity], 'CognitoIdentity'),
        invokedFunctionArn: this.headers[INVOKE_HEADER.ARN],
        awsRequestId: this.headers[INVOKE_HEADER.AWSRequestId],
        tenantId: this.headers[INVOKE_HEADER.TenantId],
        getRemainingTimeInMillis: () => deadline - Date.now(),
      },
    );
  }
}

/**
 * The callback and the part of the context holding succeed/fail/done and
 * callbackWaitsForEmptyEventLoop; only the first call of any of them counts.
 */
function buildCallbackContext(client, id, scheduleNext) {
  const postError = (err, callback) => {
    structuredConsole.logError('Invoke Error', err);
    client.postInvocationError(err, id, callback);
  };

  let isCompleteInvoked = false;
  const complete = (result, callback) => {
    if (isCompleteInvoked) {
      console.error(
        'Invocation has already been reported as done. Cannot call complete more than once per invocation.',
      );
      return;
    }
    isCompleteInvoked = true;
    client.postInvocationResponse(result, id, callback);
  };

  let waitForEmptyEventLoop = true;

  const callback = function (err, result) {
    BeforeExitListener.reset();
    if (err !== undefined && err !== null) {
      postError(err, scheduleNext);
    } else if (!waitForEmptyEventLoop) {
      complete(result, scheduleNext);
    } else {
      BeforeExitListener.set(() => {
        setImmediate(() => {
          complete(result, scheduleNext);
        });
      });
    }
  };

  const done = (err, result) => {
    BeforeExitListener.reset();
    if (err !== undefined && err !== null) {
      postError(err, scheduleNext);
    } else {
      complete(result, scheduleNext);
    }
  };
  const succeed = (result) => done(null, result);
  const fail = (err) => (err === undefined || err === null ? done('handled') : done(err, null));

  const callbackContext = {
    get callbackWaitsForEmptyEventLoop() {
      return waitForEmptyEventLoop;
    },
    set callbackWaitsForEmptyEventLoop(value) {
      waitForEmptyEventLoop = value;
    },
    succeed,
    fail,
    done,
  };

  let finished = false;
  const onlyAllowFirstCall = (toWrap) =>
    function () {
      if (!finished) {
        toWrap.apply(null, arguments);
        finished = true;
      }
    };
  callbackContext.succeed = onlyAllowFirstCall(callbackContext.succeed);
  callbackContext.fail = onlyAllowFirstCall(callbackContext.fail);
  callbackContext.done = onlyAllowFirstCall(callbackContext.done);
  const markCompleted = () => {
    isCompleteInvoked = true;
  };
  return [onlyAllowFirstCall(callback), callbackContext, markCompleted];
}

function _isPromise(obj) {
  return obj && obj.then && typeof obj.then === 'function';
}

// ---------------------------------------------------------------------------- Runtime

class Runtime {
  constructor(client, handler, errorCallbacks) {
    this.client = client;
    this.handler = handler;
    this.isAsync = _isAsync(handler);
    this.errorCallbacks = errorCallbacks;
    this.scheduleIteration = this.scheduleIteration.bind(this);
  }

  scheduleIteration() {
    setImmediate(() => {
      this.handleOnce().then(
        () => {},
        (err) => {
          console.log(`Unexpected Top Level Error: ${err.toString()}`);
          this.errorCallbacks.uncaughtException(err);
        },
      );
    });
  }

  async handleOnce() {
    const { bodyJson, headers } = await this.client.nextInvocation();
    const invokeContext = new InvokeContext(headers);
    invokeContext.updateLoggingContext();
    const id = invokeContext.invokeId;
    const [callback, callbackContext, markCompleted] = buildCallbackContext(
      this.client,
      id,
      this.scheduleIteration,
    );
    try {
      this._setErrorCallbacks(id);
      this._setDefaultExitListener(id, markCompleted);
      const result = this.handler(
        JSON.parse(bodyJson),
        invokeContext.attachEnvironmentData(callbackContext),
        callback,
      );
      if (_isPromise(result)) {
        result.then(callbackContext.succeed, callbackContext.fail).catch(callbackContext.fail);
      }
    } catch (err) {
      callback(err);
    }
  }

  _setErrorCallbacks(invokeId) {
    this.errorCallbacks.uncaughtException = (error) => {
      this.client.postInvocationError(error, invokeId, () => process.exit(129));
    };
    this.errorCallbacks.unhandledRejection = (error) => {
      this.client.postInvocationError(error, invokeId, () => process.exit(128));
    };
  }

  /**
   * When the event loop runs dry before the handler answered: an async handler's promise
   * will never settle (Runtime.NodeJsExit); a callback handler that never called back
   * answers null, as on Lambda.
   */
  _setDefaultExitListener(invokeId, markCompleted) {
    BeforeExitListener.set(() => {
      markCompleted();
      if (this.isAsync) {
        const nodeJsExitError = new Errors.NodeJsExit();
        structuredConsole.logError('Invoke Error', nodeJsExitError);
        this.client.postInvocationError(nodeJsExitError, invokeId, this.scheduleIteration);
      } else {
        this.client.postInvocationResponse(null, invokeId, this.scheduleIteration);
      }
    });
  }
}

// ------------------------------------------------------------------------------- main

async function run(client, errorCallbacks) {
  const appRoot = process.env.LAMBDA_TASK_ROOT || process.cwd();
  const handler = await loadHandler(appRoot, process.env._HANDLER || '');
  new Runtime(client, handler, errorCallbacks).scheduleIteration();
}

function main() {
  patchConsole();
  const client = new RAPIDClient(process.env.AWS_LAMBDA_RUNTIME_API || '127.0.0.1:9001');
  const errorCallbacks = {
    uncaughtException: (error) => client.postInitError(error, () => process.exit(129)),
    unhandledRejection: (error) => client.postInitError(error, () => process.exit(128)),
  };
  process.on('uncaughtException', (error) => {
    structuredConsole.logError('Uncaught Exception', error);
    errorCallbacks.uncaughtException(error);
  });
  process.on('unhandledRejection', (reason, promise) => {
    const error = new Errors.UnhandledPromiseRejection(reason, promise);
    structuredConsole.logError('Unhandled Promise Rejection', error);
    errorCallbacks.unhandledRejection(error);
  });
  BeforeExitListener.reset();
  process.on('beforeExit', BeforeExitListener.invoke);
  // AWS awaits its run() at the top level of an ES module, so a failed init reaches the
  // uncaughtException listener; do the same here.
  run(client, errorCallbacks).catch((error) => process.emit('uncaughtException', error));
}

main();
