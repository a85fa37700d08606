"""A misbehaving server (issue 15 item 8): timeouts, refused connections, HTTP errors, malformed JSON,
wrong shapes, oversized answers and hang-ups each give one clear `ServingError` line, and the client
never waits beyond its timeout. The stub serves no model: every answer here is a fault."""

import base64
import socket
import time

import numpy as np
import pytest
from conftest import run_cli
from serving_stub import StubServer

from gan_tf import serving
from gan_tf.errors import UserError

pytestmark = pytest.mark.faults
PNG = {"b64": base64.b64encode(b"\x89PNG not really").decode()}


@pytest.fixture(scope="module")
def stub():
    with StubServer({}) as server:
        yield server


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _fails_fast(call, pattern, within=2.0):
    """Run `call`, which must raise a one-line ServingError matching `pattern` in under `within` s."""
    start = time.monotonic()
    with pytest.raises(serving.ServingError, match=pattern) as raised:
        call()
    elapsed = time.monotonic() - start
    assert elapsed < within, f"took {elapsed:.1f} s: {raised.value}"
    assert "\n" not in str(raised.value), str(raised.value)
    return str(raised.value)


@pytest.mark.parametrize("mode", ["slow", "trickle"])
def test_a_slow_or_trickling_server_never_holds_the_client_beyond_its_timeout(stub, fault_tally, mode):
    """`trickle` sends a byte every 0.2 s: each wait is shorter than the 0.5 s timeout, so only a
    deadline on the whole exchange stops it (the body would take ~100 s)."""
    fault_tally.bad_input()
    with stub.misbehaving(mode, seconds=5.0 if mode == "slow" else 0.2):
        client = serving.RestClient(stub.rest_url, "digits", timeout=0.5)
        message = _fails_fast(lambda: client.sample(2, seed=0), r"no answer from .*:predict within 0\.5 s")
        assert "--timeout" in message


def test_a_slow_grpc_server_times_out_too(stub, fault_tally):
    fault_tally.bad_input()
    with stub.misbehaving("slow", seconds=5.0):
        client = serving.GrpcClient(stub.grpc_target, "digits", timeout=0.5)
        _fails_fast(lambda: client.sample(2, seed=0), r"no answer from 127\.0\.0\.1:\d+ within 0\.5 s")
        client.close()


def test_connection_refused_is_one_line_at_once(fault_tally):
    port = _free_port()  # nothing listens there
    fault_tally.bad_input(2)
    _fails_fast(lambda: serving.RestClient(f"http://127.0.0.1:{port}", "digits", timeout=5).sample(1, 0),
                rf"cannot reach TF Serving at http://127\.0\.0\.1:{port} \(.*refused\); is the server running")
    client = serving.GrpcClient(f"127.0.0.1:{port}", "digits", timeout=5)
    _fails_fast(lambda: client.sample(1, 0), "cannot reach TF Serving", within=6)
    client.close()


@pytest.mark.parametrize("code, body, expected", [
    (500, {"error": "Internal: out of memory\n\t [[node x]]"}, r"answered 500 for .*: Internal: out of memory; "
                                                               r"see the server's log$"),
    (404, "<html><body>404 Not Found</body></html>\n<p>nginx</p>", r"answered 404 for .*: Not Found: <html>.*; "
                                                                    "check --model and --version$"),
    (503, b"", r"answered 503 for .*: Service Unavailable; the model is not loaded yet, retry$"),
    (500, b"\xff" * (2**20), r"answered 500 for .*: Internal Server Error: .*see the server's log$"),
])
def test_http_errors_name_the_status_the_server_and_what_to_do(stub, fault_tally, code, body, expected):
    fault_tally.bad_input()
    with stub.misbehaving("status", code=code, body=body):
        _fails_fast(lambda: serving.RestClient(stub.rest_url, "digits", timeout=5).sample(2, 0), expected)


def test_a_grpc_error_status_is_one_line(stub, fault_tally):
    fault_tally.bad_input()
    with stub.misbehaving("status", code=500, body="Internal: out of memory\nstack"):
        client = serving.GrpcClient(stub.grpc_target, "digits", timeout=5)
        _fails_fast(lambda: client.sample(2, 0), r"TF Serving at .* answered INTERNAL: Internal: out of memory$")
        client.close()


@pytest.mark.parametrize("body, expected", [
    (b'{"outputs": {"images": [[0.1, ', r"is not valid JSON \(30 bytes starting b'\{\"outputs"),
    (b"\xff\xfe\x00garbage", "is not valid JSON"),
    (b"<html>a proxy's login page</html>", r"is not valid JSON .*TF Serving's REST port \(8501\)"),
    (b"[1, 2, 3]", r"is a JSON list, not TF Serving's object"),
])
def test_malformed_json_is_one_line(stub, fault_tally, body, expected):
    fault_tally.bad_input()
    with stub.misbehaving("body", body=body):
        _fails_fast(lambda: serving.RestClient(stub.rest_url, "digits", timeout=5).sample(2, 0), expected)


WRONG_ANSWERS = {
    "flat images": ({"outputs": {"images": [[0.5] * 3] * 2, "images_png_bytes": [PNG] * 2}},
                    r"images of shape \[2, 3\] for 2 requested .*expected \[2, height, width, 1 or 3\]"),
    "too few images": ({"outputs": {"images": np.zeros((1, 4, 4, 1)).tolist(), "images_png_bytes": [PNG]}},
                       r"images of shape \[1, 4, 4, 1\] for 2 requested"),
    "ragged": ({"outputs": {"images": [[0.5], [0.5, 0.5]], "images_png_bytes": [PNG] * 2}},
               "not regular arrays of numbers"),
    "words": ({"outputs": {"images": [["a", "b"]], "images_png_bytes": [PNG]}}, "not regular arrays of numbers"),
    "no PNGs": ({"outputs": {"images": np.zeros((2, 4, 4, 1)).tolist()}}, r"`sample` answer lacks images_png_bytes"),
    "PNG count": ({"outputs": {"images": np.zeros((2, 4, 4, 1)).tolist(), "images_png_bytes": [PNG]}},
                  r"answered 2 images but 1 PNG values"),
    "bad base64": ({"outputs": {"images": np.zeros((2, 4, 4, 1)).tolist(), "images_png_bytes": [{"b64": "a"}] * 2}},
                   "malformed b64 value"),
    "predictions": ({"predictions": [[0.5]]}, r"has no 'outputs' \(it has 'predictions'\)"),
}


@pytest.mark.parametrize("case", list(WRONG_ANSWERS))
def test_an_answer_of_the_wrong_shape_is_one_line(stub, fault_tally, case):
    value, expected = WRONG_ANSWERS[case]
    fault_tally.bad_input()
    with stub.misbehaving("json", value=value):
        _fails_fast(lambda: serving.RestClient(stub.rest_url, "digits", timeout=5).sample(2, 0), expected)


def test_generate_checks_shapes_over_rest_and_grpc(stub, fault_tally):
    z = np.zeros((3, 8), np.float32)
    fault_tally.bad_input(3)
    with stub.misbehaving("json", value={"predictions": [[0.5, 0.5]] * 3}):
        _fails_fast(lambda: serving.RestClient(stub.rest_url, "digits", timeout=5).generate(z, row_format=True),
                    r"images of shape \[3, 2\] for 3 requested")
    with stub.misbehaving("json", value={"outputs": [[[0.5]]] * 3}):  # [3, 1, 1]: one axis short
        _fails_fast(lambda: serving.RestClient(stub.rest_url, "digits", timeout=5).generate(z),
                    r"images of shape \[3, 1, 1\] for 3 requested")
    with stub.misbehaving("json", value={"images": np.zeros((2, 4, 4, 1)).tolist()}):
        client = serving.GrpcClient(stub.grpc_target, "digits", timeout=5)
        _fails_fast(lambda: client.generate(z), r"127\.0\.0\.1:\d+ answered images of shape \[2, 4, 4, 1\] for 3")
        client.close()


@pytest.mark.parametrize("declare", [True, False])
def test_an_oversized_answer_is_refused_before_it_is_decoded(stub, fault_tally, declare):
    """8 MB against a 1 MB cap: refused from its Content-Length, or after reading just past the cap."""
    fault_tally.bad_input()
    with stub.misbehaving("oversized", size=8 * 2**20, declare=declare):
        client = serving.RestClient(stub.rest_url, "digits", timeout=5, max_bytes=2**20)
        amount = r"8\.0 MB" if declare else "more"
        _fails_fast(lambda: client.sample(2, 0), rf"is {amount} than the 1 MB allowed \(--max-answer-mb\); ask for "
                    r"fewer images \(--n\) or raise --max-answer-mb")
    with stub.misbehaving("oversized", size=2**19, declare=declare):  # under the cap: read, then judged as JSON
        client = serving.RestClient(stub.rest_url, "digits", timeout=5, max_bytes=2**20)
        _fails_fast(lambda: client.sample(2, 0), r"is a JSON list, not TF Serving's object")


def test_an_oversized_grpc_answer_is_refused(stub, fault_tally):
    fault_tally.bad_input()
    with stub.misbehaving("oversized", size=8 * 2**20):
        client = serving.GrpcClient(stub.grpc_target, "digits", timeout=5, max_bytes=2**20)
        _fails_fast(lambda: client.sample(2, 0), r"larger than the 1 MB allowed \(--max-answer-mb\)")
        client.close()


def test_a_server_that_hangs_up_is_one_line(stub, fault_tally):
    fault_tally.bad_input(2)
    with stub.misbehaving("close"):
        _fails_fast(lambda: serving.RestClient(stub.rest_url, "digits", timeout=5).status(),
                    r"closed the connection without a complete answer to .*/v1/models/digits \(RemoteDisconnected\)")
    with stub.misbehaving("close", partial=True):
        _fails_fast(lambda: serving.RestClient(stub.rest_url, "digits", timeout=5).sample(2, 0),
                    r"closed the connection without a complete answer .*IncompleteRead")


def test_limits_and_addresses_are_checked(fault_tally):
    for timeout, max_bytes, expected in ((0, 1, "--timeout must be a positive"), (-1, 1, "--timeout"),
                                         (float("nan"), 1, "--timeout"), (float("inf"), 1, "--timeout"),
                                         (1, 0, "--max-answer-mb must be positive")):
        fault_tally.bad_input()
        with pytest.raises(UserError, match=expected):
            serving.RestClient("http://127.0.0.1:1", "digits", timeout=timeout, max_bytes=max_bytes)
    for url in ("127.0.0.1:8501", "ftp://127.0.0.1:8501", "http://127.0.0.1:port"):
        fault_tally.bad_input()
        with pytest.raises(serving.ServingError, match=r"--url .* is not"):
            serving.RestClient(url, "digits", timeout=1).status()


def test_serve_client_gives_one_line_for_each_fault(stub, tmp_path, fault_tally):
    base = ["serve-client", "--url", stub.rest_url, "--model", "digits", "--n", "2", "--out", tmp_path / "s.npz"]
    cases = [("slow", dict(seconds=5.0), ["--timeout", "0.5"], "within 0.5 s"),
             ("status", dict(code=500), [], "answered 500"),
             ("body", dict(body=b"{nope"), [], "is not valid JSON"),
             ("json", WRONG_ANSWERS["flat images"][0], [], "images of shape [2, 3]"),
             ("oversized", dict(size=4 * 2**20), ["--max-answer-mb", "1"], "than the 1 MB allowed"),
             ("close", {}, [], "closed the connection")]
    for mode, options, flags, expected in cases:
        fault_tally.bad_input()
        options = {"value": options} if mode == "json" else options
        start = time.monotonic()
        with stub.misbehaving(mode, **options):
            result = run_cli(*base, *flags)
        assert time.monotonic() - start < 3, mode
        assert result.returncode == 2 and result.stderr.count("\n") == 1, (mode, result.stderr[-2000:])
        assert expected in result.stderr, (mode, result.stderr)
    fault_tally.bad_input()
    bad = run_cli(*base, "--timeout", "0")
    assert bad.returncode == 2 and "--timeout must be a positive" in bad.stderr
    assert not (tmp_path / "s.npz").exists()
