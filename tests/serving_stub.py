"""A stand-in for TensorFlow Serving in tests: its documented REST and gRPC predict contract, on loopback.

No Docker engine runs on CI machines, so the clients are tested against this server instead. It
answers exactly the request and response bodies of https://www.tensorflow.org/tfx/serving/api_rest
and the PredictionService.Predict gRPC call, by running the SavedModel's signatures with TensorFlow.

It can also be told to misbehave (`StubServer.misbehaving`): answer late or slowly, fail with an HTTP
error, send malformed JSON, the wrong shapes or an oversized body, or hang up, so that the clients'
handling of each is tested.
"""

import base64
import contextlib
import json
import re
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import tensorflow as tf

_PATH = re.compile(r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+))?(?P<rest>/metadata|:predict)?$")


class ModelRegistry:
    """name -> {version: loaded SavedModel}, like TF Serving's model config."""

    def __init__(self, models):
        self.models = {name: {int(version): tf.saved_model.load(path) for version, path in found.items()}
                       for name, found in models.items()}

    def get(self, name, version=None):
        if name not in self.models:
            raise LookupError(f"Servable not found for request: Latest({name})")
        versions = self.models[name]
        chosen = max(versions) if version is None else int(version)
        if chosen not in versions:
            raise LookupError(f"Servable not found for request: Specific({name}, {version})")
        return chosen, versions[chosen]


def _encode(array, name):
    if array.dtype == object or array.dtype.kind == "S":
        encoded = [{"b64": base64.b64encode(item).decode()} for item in array.reshape(-1)]
        return encoded if array.ndim else encoded[0]
    return array.tolist()


def _run(model, signature_name, inputs):
    signature = model.signatures[signature_name]
    specs = signature.structured_input_signature[1]
    missing = set(specs) - set(inputs)
    if missing:
        raise ValueError(f"Missing input(s): {', '.join(sorted(missing))}")
    tensors = {}
    for name, spec in specs.items():
        value = np.asarray(inputs[name], dtype=spec.dtype.as_numpy_dtype)
        if not spec.shape.is_compatible_with(value.shape):
            raise ValueError(f"input {name} has shape {list(value.shape)}, but the signature expects "
                             f"{spec.shape.as_list()} (None = any)")
        tensors[name] = tf.constant(value)
    return {name: value.numpy() for name, value in signature(**tensors).items()}


FAULTS = ("slow", "trickle", "status", "body", "json", "oversized", "close")
_GRPC_CODES = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 503: "UNAVAILABLE"}  # anything else: INTERNAL


class _RestHandler(BaseHTTPRequestHandler):
    registry = None
    stub = None

    def log_message(self, *args):
        pass

    def _misbehave(self):
        """Act out the stub's fault, if one is set; True when the request is dealt with."""
        fault = self.stub.fault
        if fault is None:
            return False
        mode, released = fault["mode"], self.stub.released
        try:
            if mode == "slow":
                released.wait(fault.get("seconds", 5.0))
                return False  # then answer normally
            if mode == "close":
                if fault.get("partial"):  # promise 1,000 bytes, send a few, hang up
                    self._head(200, 1000)
                    self.wfile.write(b'{"outputs": ')
                self.close_connection = True
            elif mode == "status":
                body = fault.get("body", {"error": "Internal: the stub was told to fail"})
                self._send(fault.get("code", 500), body if isinstance(body, (bytes, str)) else json.dumps(body))
            elif mode == "body":
                self._send(200, fault["body"])
            elif mode == "json":
                self._send(200, json.dumps(fault["value"]))
            elif mode == "trickle":
                payload = json.dumps({"outputs": [0.0] * 100}).encode()
                self._head(200, len(payload))
                for index in range(len(payload)):
                    self.wfile.write(payload[index:index + 1])
                    self.wfile.flush()
                    if released.wait(fault.get("seconds", 0.2)):
                        break
            elif mode == "oversized":  # [0,0,...,0]: valid JSON of about `size` bytes
                zeros = max(fault.get("size", 8 * 2**20) - 3, 0) // 2
                self._head(200, 2 * zeros + 3 if fault.get("declare", True) else None)
                self.wfile.write(b"[")
                while zeros and not released.is_set():
                    count = min(zeros, 2**15)
                    self.wfile.write(b"0," * count)
                    zeros -= count
                self.wfile.write(b"0]")
            else:
                raise ValueError(f"unknown fault {mode!r}; one of {', '.join(FAULTS)}")
        except (BrokenPipeError, ConnectionResetError):  # the client hung up first, as it should
            self.close_connection = True
        return True

    def handle(self):
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):  # a client that gave up (a timeout test) is no error
            pass

    def _head(self, code, length):
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def _send(self, code, payload):
        payload = payload.encode() if isinstance(payload, str) else payload
        self._head(code, len(payload))
        self.wfile.write(payload)

    def _read_body(self):
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def _answer(self, code, body):
        payload = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _route(self):
        match = _PATH.match(self.path)
        if not match:
            raise LookupError(f"Malformed request: {self.command} {self.path}")
        return match["name"], match["version"], match["rest"]

    def do_GET(self):
        if self._misbehave():
            return
        try:
            name, version, rest = self._route()
            chosen, model = self.registry.get(name, version)
        except LookupError as error:
            return self._answer(404, {"error": str(error)})
        if rest == "/metadata":
            signatures = {key: {"inputs": {n: {"dtype": s.dtype.name, "tensor_shape": s.shape.as_list()}
                                           for n, s in fn.structured_input_signature[1].items()},
                                "outputs": {n: {"dtype": s.dtype.name, "tensor_shape": s.shape.as_list()}
                                            for n, s in fn.structured_outputs.items()}}
                          for key, fn in model.signatures.items()}
            return self._answer(200, {"model_spec": {"name": name, "version": str(chosen)},
                                      "metadata": {"signature_def": {"signature_def": signatures}}})
        return self._answer(200, {"model_version_status": [
            {"version": str(chosen), "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]})

    def do_POST(self):
        request = self._read_body()  # first, so that a fault never leaves it unread (a reset, not a close)
        if self._misbehave():
            return
        try:
            name, version, rest = self._route()
            if rest != ":predict":
                raise LookupError(f"Malformed request: POST {self.path}")
            _, model = self.registry.get(name, version)
        except LookupError as error:
            return self._answer(404, {"error": str(error)})
        try:
            body = json.loads(request.decode())
            signature = body.get("signature_name", "serving_default")
            if signature not in model.signatures:
                raise ValueError(f"Serving signature name: \"{signature}\" not found in signature def")
            specs = list(model.signatures[signature].structured_input_signature[1])
            if "instances" in body:
                rows = body["instances"]
                if rows and isinstance(rows[0], dict):
                    inputs = {key: [row[key] for row in rows] for key in rows[0]}
                else:
                    inputs = {specs[0]: rows}
                outputs = _run(model, signature, inputs)
                count = len(next(iter(outputs.values())))
                if len(outputs) == 1:
                    only = next(iter(outputs))
                    predictions = [_encode(outputs[only][index], only) for index in range(count)]
                else:
                    predictions = [{key: _encode(value[index], key) for key, value in outputs.items()}
                                   for index in range(count)]
                return self._answer(200, {"predictions": predictions})
            if "inputs" in body:
                inputs = body["inputs"] if isinstance(body["inputs"], dict) else {specs[0]: body["inputs"]}
                outputs = _run(model, signature, inputs)
                encoded = {key: _encode(value, key) for key, value in outputs.items()}
                return self._answer(200, {"outputs": encoded if len(encoded) > 1 else next(iter(encoded.values()))})
            raise ValueError("Missing 'inputs' or 'instances' key")
        except (ValueError, TypeError, KeyError, tf.errors.InvalidArgumentError) as error:
            message = getattr(error, "message", None) or str(error)  # relayed whole, as TF Serving does
            return self._answer(400, {"error": message or type(error).__name__})


class StubServer:
    """REST on http://127.0.0.1:PORT and gRPC on 127.0.0.1:GRPC_PORT, both serving `models`
    ({name: {version: SavedModel folder}}; {} for a server that only misbehaves)."""

    def __init__(self, models):
        self.registry = ModelRegistry(models)
        self.fault = None
        self.released = threading.Event()
        handler = type("Handler", (_RestHandler,), {"registry": self.registry, "stub": self})
        self.http = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.rest_url = f"http://127.0.0.1:{self.http.server_address[1]}"
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.grpc = None
        self.grpc_target = None

    @contextlib.contextmanager
    def misbehaving(self, mode, **options):
        """Misbehave in `mode` for every REST (and gRPC Predict) request inside the block:

            slow       wait `seconds` (default 5), then answer normally
            trickle    REST: a 200 header, then the body one byte every `seconds` (default 0.2)
            status     HTTP `code` (default 500) with `body` (a str, bytes or a JSON-able value;
                       default TF Serving's {"error": ...}); gRPC: the matching status, `body` as details
            body       REST: 200 with `body` as it is (malformed JSON)
            json       200 with `value` as JSON (the wrong shapes); gRPC: `value` ({name: list}) as outputs
            oversized  200 with a JSON array of `size` bytes (default 8 MB), with a Content-Length
                       (`declare`, default True) or without; gRPC: an `images` output of `size` bytes
            close      read the request and hang up without an answer (`partial`: after a 200 header and
                       a few of the bytes its Content-Length promises); gRPC: UNAVAILABLE

        Leaving the block wakes every waiting handler, so a slow answer never outlives its test.
        """
        if mode not in FAULTS:
            raise ValueError(f"unknown fault {mode!r}; one of {', '.join(FAULTS)}")
        self.released.clear()
        self.fault = dict(options, mode=mode)
        try:
            yield self
        finally:
            self.fault = None
            self.released.set()

    def _grpc_fault(self, context, response):
        """Act out the fault over gRPC; True when `response` holds the answer to send."""
        import grpc

        fault = self.fault
        if fault is None:
            return False
        mode = fault["mode"]
        if mode == "slow":
            self.released.wait(fault.get("seconds", 5.0))
            return False
        if mode == "status":
            code = _GRPC_CODES.get(fault.get("code", 500), "INTERNAL")
            context.abort(getattr(grpc.StatusCode, code), str(fault.get("body", "the stub was told to fail")))
        if mode == "close":
            context.abort(grpc.StatusCode.UNAVAILABLE, "Socket closed")
        outputs = ({name: np.asarray(value) for name, value in fault["value"].items()} if mode == "json" else
                   {"images": np.zeros(fault.get("size", 8 * 2**20) // 4, np.float32)} if mode == "oversized" else None)
        if outputs is None:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, f"fault {mode!r} has no gRPC form")
        for name, value in outputs.items():
            response.outputs[name].CopyFrom(tf.make_tensor_proto(value))
        return True

    def start_grpc(self):
        import grpc
        from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

        registry = self.registry
        stub = self

        class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
            def Predict(self, request, context):
                faulty = predict_pb2.PredictResponse()
                if stub._grpc_fault(context, faulty):
                    return faulty
                spec = request.model_spec
                try:
                    version = spec.version.value if spec.HasField("version") else None
                    chosen, model = registry.get(spec.name, version)
                except LookupError as error:
                    context.abort(grpc.StatusCode.NOT_FOUND, str(error))
                signature = spec.signature_name or "serving_default"
                try:
                    if signature not in model.signatures:
                        raise ValueError(f"Serving signature name: \"{signature}\" not found in signature def")
                    inputs = {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}
                    outputs = _run(model, signature, inputs)
                except (ValueError, tf.errors.InvalidArgumentError) as error:
                    message = getattr(error, "message", None) or str(error)
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, message)
                response = predict_pb2.PredictResponse()
                response.model_spec.name = spec.name
                response.model_spec.version.value = chosen
                response.model_spec.signature_name = signature
                for name, value in outputs.items():
                    response.outputs[name].CopyFrom(tf.make_tensor_proto(value))
                return response

        self.grpc = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(PredictionService(), self.grpc)
        port = self.grpc.add_insecure_port("127.0.0.1:0")
        self.grpc_target = f"127.0.0.1:{port}"
        self.grpc.start()

    def __enter__(self):
        self.thread.start()
        self.start_grpc()
        return self

    def __exit__(self, *exc):
        self.released.set()
        self.http.shutdown()
        self.http.server_close()
        if self.grpc is not None:
            self.grpc.stop(0)
