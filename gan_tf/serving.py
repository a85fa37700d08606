"""Clients for a TensorFlow Serving server that serves an exported generator (REST and gRPC).

Knows no training code: a deployer can use it next to a server. REST needs only the standard
library; gRPC needs `grpcio` and `tensorflow-serving-api` (installed with --no-deps, see README).

REST contract (https://www.tensorflow.org/tfx/serving/api_rest):
    GET  /v1/models/NAME[/versions/N]             -> model_version_status
    GET  /v1/models/NAME[/versions/N]/metadata    -> signature_def
    POST /v1/models/NAME[/versions/N]:predict     {"signature_name": S, "instances": [...]}  (row)
                                                  {"signature_name": S, "inputs": {...}}     (columnar)
    Row answers are {"predictions": ...}, columnar ones {"outputs": ...}; outputs whose name ends in
    `_bytes` come as {"b64": "..."} and are decoded here to `bytes`.
"""

import base64
import json
import socket
import urllib.error
import urllib.request

import numpy as np

from gan_tf.errors import UserError


class ServingError(UserError):
    """The server could not be reached, timed out, or refused the request; the message says which."""


def _decode(value):
    """Undo TF Serving's JSON encoding of binary values, recursively."""
    if isinstance(value, dict) and set(value) == {"b64"}:
        return base64.b64decode(value["b64"])
    if isinstance(value, dict):
        return {key: _decode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode(item) for item in value]
    return value


def summarize_error(message):
    """The informative line of a TensorFlow error message (TF Serving relays them whole).

    "Graph execution error:", "Detected at node ..." and stack lines are dropped; an assertion keeps
    just its own text ("num_samples must be at most 4096").
    """
    for line in str(message).splitlines():
        line = line.strip()
        if not line or line.startswith(("Graph execution error", "Detected at node", "<stack", "[[", "File ")):
            continue
        if line.startswith("assertion failed: ["):
            return line[len("assertion failed: ["):].split("]", 1)[0]
        return line
    return str(message).strip()


def _to_json(value):
    return value.tolist() if isinstance(value, np.ndarray) else value


class RestClient:
    """TF Serving's REST API for one model (and optionally one version)."""

    def __init__(self, url, model, version=None, timeout=30.0):
        self.url = url.rstrip("/")
        self.model = model
        self.version = version
        self.timeout = timeout

    @property
    def model_url(self):
        suffix = f"/versions/{self.version}" if self.version is not None else ""
        return f"{self.url}/v1/models/{self.model}{suffix}"

    def _request(self, url, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method="POST" if data else "GET",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                return json.loads(answer.read().decode())
        except urllib.error.HTTPError as error:
            try:
                message = json.loads(error.read().decode()).get("error", "")
            except (ValueError, AttributeError):
                message = error.reason
            raise ServingError(f"TF Serving answered {error.code} for {url}: {summarize_error(message)}") from None
        except (socket.timeout, TimeoutError):
            raise ServingError(f"no answer from {url} within {self.timeout:g} s") from None
        except urllib.error.URLError as error:
            if isinstance(error.reason, (socket.timeout, TimeoutError)):
                raise ServingError(f"no answer from {url} within {self.timeout:g} s") from None
            raise ServingError(f"cannot reach TF Serving at {self.url} ({error.reason}); is the server "
                               "running and the port right?") from None

    def status(self):
        return self._request(self.model_url)

    def metadata(self):
        return self._request(f"{self.model_url}/metadata")

    def predict(self, inputs, signature="serving_default", row_format=False):
        """Run a signature. `inputs`: {name: array}. Returns {output name: array or list of bytes}.

        Row format sends one object per example ("instances") and needs every input batched;
        columnar ("inputs") also takes scalars such as `sample`'s num_samples and seed.
        """
        if row_format:
            names = list(inputs)
            count = len(inputs[names[0]])
            instances = ([_to_json(np.asarray(inputs[names[0]])[index]) for index in range(count)]
                         if len(names) == 1 else
                         [{name: _to_json(np.asarray(inputs[name])[index]) for name in names}
                          for index in range(count)])
            answer = self._request(f"{self.model_url}:predict",
                                   {"signature_name": signature, "instances": instances})
            predictions = _decode(answer["predictions"])
            if predictions and isinstance(predictions[0], dict):
                return {name: _as_array([row[name] for row in predictions]) for name in predictions[0]}
            return {"outputs": _as_array(predictions)}
        body = {"signature_name": signature, "inputs": {name: _to_json(value) for name, value in inputs.items()}}
        outputs = _decode(self._request(f"{self.model_url}:predict", body)["outputs"])
        if isinstance(outputs, dict):
            return {name: _as_array(value) for name, value in outputs.items()}
        return {"outputs": _as_array(outputs)}

    def generate(self, z, row_format=False, truncation=None):
        """Images in [0, 1] for latent vectors z [batch, latent_dim] (a style-based model: and a
        truncation psi, one number for every row)."""
        z = np.asarray(z, np.float32)
        inputs = {"z": z}
        if truncation is not None:
            inputs["truncation"] = np.full(len(z), truncation, np.float32)
        outputs = self.predict(inputs, "serving_default", row_format)
        return outputs.get("images", outputs.get("outputs"))

    def sample(self, num_samples, seed, label=None, truncation=None):
        """(images [n, H, W, C] in [0, 1], list of PNG bytes) from the `sample` signature.

        label: for a conditional or InfoGAN model (whose `sample` needs it), the class; -1 for all.
        truncation: for a style-based model (whose `sample` needs it), psi; 1 is none.
        """
        inputs = {"num_samples": int(num_samples), "seed": int(seed)}
        if label is not None:
            inputs["label"] = int(label)
        if truncation is not None:
            inputs["truncation"] = float(truncation)
        outputs = self.predict(inputs, "sample")
        return outputs["images"], list(outputs["images_png_bytes"])


def _as_array(value):
    if isinstance(value, list) and value and isinstance(value[0], bytes):
        return value
    return np.asarray(value, np.float32) if not isinstance(value, bytes) else value


class GrpcClient:
    """TF Serving's gRPC PredictionService.Predict for one model (tensorflow-serving-api)."""

    def __init__(self, target, model, version=None, timeout=30.0):
        import grpc
        from tensorflow_serving.apis import prediction_service_pb2_grpc

        self.target = target
        self.model = model
        self.version = version
        self.timeout = timeout
        self.channel = grpc.insecure_channel(target)
        self.stub = prediction_service_pb2_grpc.PredictionServiceStub(self.channel)

    def predict(self, inputs, signature="serving_default"):
        import grpc
        import tensorflow as tf
        from tensorflow_serving.apis import predict_pb2

        request = predict_pb2.PredictRequest()
        request.model_spec.name = self.model
        request.model_spec.signature_name = signature
        if self.version is not None:
            request.model_spec.version.value = int(self.version)
        for name, value in inputs.items():
            request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
        try:
            response = self.stub.Predict(request, timeout=self.timeout)
        except grpc.RpcError as error:
            code = error.code()
            if code == grpc.StatusCode.UNAVAILABLE:
                raise ServingError(f"cannot reach TF Serving at {self.target} (gRPC unavailable); is the "
                                   "server running and the port right?") from None
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                raise ServingError(f"no answer from {self.target} within {self.timeout:g} s") from None
            raise ServingError(f"TF Serving answered {code.name}: {summarize_error(error.details())}") from None
        outputs = {}
        for name, proto in response.outputs.items():
            array = tf.make_ndarray(proto)
            outputs[name] = list(array) if array.dtype == object else array
        return outputs

    def generate(self, z, truncation=None):
        z = np.asarray(z, np.float32)
        inputs = {"z": z}
        if truncation is not None:
            inputs["truncation"] = np.full(len(z), truncation, np.float32)
        return self.predict(inputs)["images"]

    def sample(self, num_samples, seed, label=None, truncation=None):
        import numpy

        inputs = {"num_samples": numpy.int32(num_samples), "seed": numpy.int64(seed)}
        if label is not None:
            inputs["label"] = numpy.int32(label)
        if truncation is not None:
            inputs["truncation"] = numpy.float32(truncation)
        outputs = self.predict(inputs, "sample")
        return outputs["images"], outputs["images_png_bytes"]

    def close(self):
        self.channel.close()
