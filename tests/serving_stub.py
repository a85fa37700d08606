"""A stand-in for TensorFlow Serving in tests: its documented REST and gRPC predict contract, on loopback.

No Docker engine runs on CI machines, so the clients are tested against this server instead. It
answers exactly the request and response bodies of https://www.tensorflow.org/tfx/serving/api_rest
and the PredictionService.Predict gRPC call, by running the SavedModel's signatures with TensorFlow.
"""

import base64
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


class _RestHandler(BaseHTTPRequestHandler):
    registry = None

    def log_message(self, *args):
        pass

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
        try:
            name, version, rest = self._route()
            if rest != ":predict":
                raise LookupError(f"Malformed request: POST {self.path}")
            _, model = self.registry.get(name, version)
        except LookupError as error:
            return self._answer(404, {"error": str(error)})
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
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
    """REST on http://127.0.0.1:PORT and gRPC on 127.0.0.1:GRPC_PORT, both serving `models`."""

    def __init__(self, models):
        self.registry = ModelRegistry(models)
        handler = type("Handler", (_RestHandler,), {"registry": self.registry})
        self.http = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.rest_url = f"http://127.0.0.1:{self.http.server_address[1]}"
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.grpc = None
        self.grpc_target = None

    def start_grpc(self):
        import grpc
        from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

        registry = self.registry

        class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
            def Predict(self, request, context):
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
        self.http.shutdown()
        self.http.server_close()
        if self.grpc is not None:
            self.grpc.stop(0)
