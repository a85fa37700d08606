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
import http.client
import json
import socket
import threading
import urllib.parse

import numpy as np

from gan_tf.errors import UserError

DEFAULT_TIMEOUT = 30.0  # seconds for a whole exchange (connect, send, wait, read), however slow the server
DEFAULT_MAX_BYTES = 256 * 2**20  # 4,096 28x28 float32 images are ~70 MB of JSON (json.dumps of .tolist())


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


def _check_limits(timeout, max_bytes):
    if not isinstance(timeout, (int, float)) or not 0 < timeout < 1e6:  # NaN and inf fail too
        raise UserError(f"--timeout must be a positive number of seconds (below 1e6), got {timeout}")
    if not isinstance(max_bytes, (int, float)) or not max_bytes >= 1:
        given = f"{max_bytes / 2**20:g}" if isinstance(max_bytes, (int, float)) else repr(max_bytes)
        raise UserError(f"--max-answer-mb must be positive, got {given}")


class RestClient:
    """TF Serving's REST API for one model (and optionally one version).

    Every exchange (connect, send, wait, read) ends within `timeout` seconds in total, however slowly
    the server answers, and an answer over `max_bytes` is refused before it is decoded; every failure
    (refused, timed out, cut off, HTTP error, malformed JSON, wrong shapes) is one `ServingError` line.
    """

    def __init__(self, url, model, version=None, timeout=DEFAULT_TIMEOUT, max_bytes=DEFAULT_MAX_BYTES):
        _check_limits(timeout, max_bytes)
        self.url = url.rstrip("/")
        self.model = model
        self.version = version
        self.timeout = timeout
        self.max_bytes = int(max_bytes)

    @property
    def model_url(self):
        suffix = f"/versions/{self.version}" if self.version is not None else ""
        return f"{self.url}/v1/models/{urllib.parse.quote(str(self.model), safe='')}{suffix}"

    def _exchange(self, url, data):
        """(status, body bytes) of one HTTP request, all of it within `self.timeout` seconds.

        A socket timeout bounds each wait, not their sum (a server that sends a byte a second never
        trips it), so a timer also shuts the socket down at the deadline, which ends any blocked read.
        """
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ServingError(f"--url {self.url} is not an http:// or https:// address; TF Serving's REST "
                               "API listens on http://HOST:8501")
        connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        try:
            connection = connection_class(parts.hostname, parts.port, timeout=self.timeout)
        except ValueError as error:  # a port that is not a number
            raise ServingError(f"--url {self.url} is not a valid address ({error})") from None
        expired, sockets = threading.Event(), []

        def cut():  # the response keeps reading from the socket after the connection lets go of it
            expired.set()
            for sock in [*sockets, connection.sock]:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except (OSError, AttributeError):
                    pass

        timer = threading.Timer(self.timeout, cut)
        timer.daemon = True
        timer.start()
        try:
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            connection.connect()
            sockets.append(connection.sock)
            if expired.is_set():  # the deadline passed while connecting, before the timer could cut
                raise TimeoutError
            connection.request("POST" if data is not None else "GET", target, body=data,
                               headers={"Content-Type": "application/json"})
            answer = connection.getresponse()
            # An error page needs no more than its first lines.
            limit = self.max_bytes if answer.status < 400 else min(self.max_bytes, 2**16)
            declared = answer.getheader("Content-Length", "")
            if answer.status < 400 and declared.isdigit() and int(declared) > limit:
                raise self._oversized(url, int(declared))
            chunks, size = [], 0
            while True:
                chunk = answer.read(min(2**20, limit + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
                if size > limit:
                    if answer.status < 400:
                        raise self._oversized(url, None)
                    break
            if expired.is_set():
                raise TimeoutError
            if answer.length and size <= limit:  # fewer bytes than its Content-Length said
                raise http.client.IncompleteRead(b"".join(chunks), answer.length)
            return answer.status, answer.reason, b"".join(chunks)
        except (OSError, http.client.HTTPException) as error:
            if expired.is_set() or isinstance(error, (socket.timeout, TimeoutError)):
                raise ServingError(f"no answer from {url} within {self.timeout:g} s; is the server overloaded? "
                                   "Ask for fewer images (--n) or allow more time (--timeout)") from None
            if isinstance(error, (http.client.HTTPException, ConnectionResetError, BrokenPipeError)):
                raise ServingError(f"TF Serving at {self.url} closed the connection without a complete answer "
                                   f"to {url} ({type(error).__name__}); see the server's log, then retry") from None
            reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
            raise ServingError(f"cannot reach TF Serving at {self.url} ({reason}); is the server "
                               "running and the port right?") from None
        finally:
            timer.cancel()
            connection.close()

    def _oversized(self, url, size):
        amount = f"{size / 2**20:.1f} MB" if size is not None else "more"
        return ServingError(f"the answer of {url} is {amount} than the {self.max_bytes / 2**20:g} MB allowed "
                            "(--max-answer-mb); ask for fewer images (--n) or raise --max-answer-mb")

    def _request(self, url, body=None):
        """The JSON object TF Serving answered to a GET (`body` None) or a POST of `body`."""
        status, reason, payload = self._exchange(url, None if body is None else json.dumps(body).encode())
        if status >= 400:
            try:
                message = json.loads(payload.decode()).get("error", "")
            except (ValueError, AttributeError):
                message = ""
            if not message:  # not TF Serving's {"error": ...}: the first line of the page, if any
                lines = payload.decode("utf-8", "replace").strip().splitlines()
                message = f"{reason}: {lines[0][:200]}" if lines else reason
            hint = {404: "; check --model and --version", 503: "; the model is not loaded yet, retry"}.get(
                status, "; see the server's log" if status >= 500 else "")
            raise ServingError(f"TF Serving answered {status} for {url}: {summarize_error(message)}{hint}")
        try:
            answer = json.loads(payload.decode())
        except ValueError:  # UnicodeDecodeError is one
            raise ServingError(f"the answer of {url} is not valid JSON ({len(payload)} bytes starting "
                               f"{payload[:40]!r}); is {self.url} TF Serving's REST port (8501)?") from None
        if not isinstance(answer, dict):
            raise ServingError(f"the answer of {url} is a JSON {type(answer).__name__}, not TF Serving's object; "
                               f"is {self.url} TF Serving's REST port (8501)?")
        return answer

    def _field(self, answer, key, url):
        if key not in answer:
            found = ", ".join(map(repr, answer)) or "nothing"
            raise ServingError(f"the answer of {url} has no {key!r} (it has {found}); is {self.url} TF Serving's "
                               "REST port (8501)?")
        try:
            return _decode(answer[key])
        except ValueError as error:  # binascii.Error: a "b64" value that is not base64
            raise ServingError(f"the answer of {url} holds a malformed b64 value ({error}); see the server") from None

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
            url = f"{self.model_url}:predict"
            predictions = self._field(self._request(url, {"signature_name": signature, "instances": instances}),
                                      "predictions", url)
            try:
                if isinstance(predictions, list) and predictions and isinstance(predictions[0], dict):
                    return {name: _as_array([row[name] for row in predictions]) for name in predictions[0]}
                return {"outputs": _as_array(predictions)}
            except (ValueError, TypeError, KeyError) as error:
                raise _irregular(url, error) from None
        url = f"{self.model_url}:predict"
        body = {"signature_name": signature, "inputs": {name: _to_json(value) for name, value in inputs.items()}}
        outputs = self._field(self._request(url, body), "outputs", url)
        try:
            if isinstance(outputs, dict):
                return {name: _as_array(value) for name, value in outputs.items()}
            return {"outputs": _as_array(outputs)}
        except (ValueError, TypeError) as error:
            raise _irregular(url, error) from None

    def generate(self, z, row_format=False, truncation=None):
        """Images in [0, 1] for latent vectors z [batch, latent_dim] (a style-based model: and a
        truncation psi, one number for every row)."""
        z = np.asarray(z, np.float32)
        inputs = {"z": z}
        if truncation is not None:
            inputs["truncation"] = np.full(len(z), truncation, np.float32)
        outputs = self.predict(inputs, "serving_default", row_format)
        return _checked_images(outputs.get("images", outputs.get("outputs")), len(z), self.url, self.model)

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
        return _checked_sample(outputs, num_samples, self.url, self.model)


def _as_array(value):
    if isinstance(value, list) and value and isinstance(value[0], bytes):
        return value
    return np.asarray(value, np.float32) if not isinstance(value, bytes) else value


def _irregular(url, error):
    return ServingError(f"the answer of {url} holds outputs that are not regular arrays of numbers "
                        f"({str(error).splitlines()[0][:120]}); is the model a gan-tf export?")


def _checked_images(images, count, server, model):
    """`images` if they are [count, H, W, C] numbers, else a ServingError: a server that answers
    another model's shapes must not become a wrong picture later."""
    shape = list(np.shape(images)) if isinstance(images, np.ndarray) else None
    if shape is None or len(shape) != 4 or shape[0] != count or shape[-1] not in (1, 3):
        what = f"images of shape {shape}" if shape is not None else f"no image array ({type(images).__name__})"
        raise ServingError(f"{server} answered {what} for {count} requested from model {model}; expected "
                           f"[{count}, height, width, 1 or 3]: is {model} a gan-tf generator export?")
    return images


def _checked_sample(outputs, count, server, model):
    """(images, PNGs) of a `sample` answer, checked: `count` images and as many PNGs."""
    missing = sorted({"images", "images_png_bytes"} - set(outputs))
    if missing:
        raise ServingError(f"{server}'s `sample` answer lacks {', '.join(missing)} (it has "
                           f"{', '.join(sorted(outputs))}); is {model} a gan-tf generator export?")
    images = _checked_images(outputs["images"], int(count), server, model)
    png_bytes = outputs["images_png_bytes"]
    png_bytes = list(png_bytes) if isinstance(png_bytes, (list, np.ndarray)) else [png_bytes]
    if len(png_bytes) != len(images) or not all(isinstance(item, bytes) for item in png_bytes):
        raise ServingError(f"{server} answered {len(images)} images but {len(png_bytes)} PNG values for model "
                           f"{model}; is it a gan-tf generator export?")
    return images, png_bytes


class GrpcClient:
    """TF Serving's gRPC PredictionService.Predict for one model (tensorflow-serving-api).

    `timeout` is gRPC's deadline for the whole call; `max_bytes` caps the answer (gRPC's own default,
    4 MB, would refuse a few hundred images).
    """

    def __init__(self, target, model, version=None, timeout=DEFAULT_TIMEOUT, max_bytes=DEFAULT_MAX_BYTES):
        import grpc
        from tensorflow_serving.apis import prediction_service_pb2_grpc

        _check_limits(timeout, max_bytes)
        self.target = target
        self.model = model
        self.version = version
        self.timeout = timeout
        self.max_bytes = int(min(max_bytes, 2**31 - 1))  # gRPC's limits are 32-bit
        self.channel = grpc.insecure_channel(target, options=[("grpc.max_receive_message_length", self.max_bytes)])
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
                raise ServingError(f"no answer from {self.target} within {self.timeout:g} s; is the server "
                                   "overloaded? Ask for fewer images (--n) or allow more time (--timeout)") from None
            if code == grpc.StatusCode.RESOURCE_EXHAUSTED and "larger than max" in (error.details() or ""):
                raise ServingError(f"the answer of {self.target} is larger than the {self.max_bytes / 2**20:g} MB "
                                   "allowed (--max-answer-mb); ask for fewer images (--n) or raise "
                                   "--max-answer-mb") from None
            hint = "; check --model and --version" if code == grpc.StatusCode.NOT_FOUND else ""
            raise ServingError(f"TF Serving at {self.target} answered {code.name}: "
                               f"{summarize_error(error.details())}{hint}") from None
        outputs = {}
        for name, proto in response.outputs.items():
            try:
                array = tf.make_ndarray(proto)
            except (ValueError, TypeError, KeyError) as error:  # a tensor whose content disagrees with its shape
                raise _irregular(f"{self.target} ({self.model})", error) from None
            outputs[name] = list(array) if array.dtype == object else array
        return outputs

    def generate(self, z, truncation=None):
        z = np.asarray(z, np.float32)
        inputs = {"z": z}
        if truncation is not None:
            inputs["truncation"] = np.full(len(z), truncation, np.float32)
        outputs = self.predict(inputs)
        return _checked_images(outputs.get("images"), len(z), self.target, self.model)

    def sample(self, num_samples, seed, label=None, truncation=None):
        import numpy

        inputs = {"num_samples": numpy.int32(num_samples), "seed": numpy.int64(seed)}
        if label is not None:
            inputs["label"] = numpy.int32(label)
        if truncation is not None:
            inputs["truncation"] = numpy.float32(truncation)
        outputs = self.predict(inputs, "sample")
        return _checked_sample(outputs, num_samples, self.target, self.model)

    def close(self):
        self.channel.close()
