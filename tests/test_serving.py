import base64
import io
import json
import socket
import urllib.request

import keras
import numpy as np
import pytest
from conftest import run_cli
from PIL import Image
from serving_stub import StubServer

from gan_tf import export, serving
from gan_tf.models import build_generator

LATENT = 8


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    keras.utils.set_random_seed(0)
    generator = build_generator(LATENT, width=4)
    base = tmp_path_factory.mktemp("served")
    first = export.export_generator(generator, "digits", str(base))
    second = export.export_generator(generator, "digits", str(base))
    with StubServer({"digits": {1: first, 2: second}}) as stub:
        stub.generator = generator
        yield stub


def _expected(generator, z):
    return np.clip((np.asarray(generator(z, training=False)) + 1) / 2, 0, 1)


def test_rest_status_and_metadata(server):
    client = serving.RestClient(server.rest_url, "digits")
    status = client.status()["model_version_status"][0]
    assert status["version"] == "2" and status["state"] == "AVAILABLE"
    signatures = client.metadata()["metadata"]["signature_def"]["signature_def"]
    assert set(signatures["serving_default"]["inputs"]) == {"z"}
    assert set(signatures["sample"]["outputs"]) == {"images", "images_png_bytes"}


@pytest.mark.parametrize("row_format", [False, True])
def test_rest_predict_in_both_request_forms_matches_the_generator(server, row_format):
    z = np.random.default_rng(0).normal(size=(3, LATENT)).astype(np.float32)
    images = serving.RestClient(server.rest_url, "digits", version=1).generate(z, row_format=row_format)
    np.testing.assert_allclose(images, _expected(server.generator, z), atol=1e-5)


def test_rest_body_is_tf_servings_documented_format(server):
    """The raw exchange: columnar request, {"outputs": ...} answer, b64-wrapped PNG bytes."""
    body = json.dumps({"signature_name": "sample", "inputs": {"num_samples": 2, "seed": 5}}).encode()
    request = urllib.request.Request(f"{server.rest_url}/v1/models/digits:predict", data=body, method="POST")
    answer = json.loads(urllib.request.urlopen(request, timeout=30).read())
    assert set(answer["outputs"]) == {"images", "images_png_bytes"}
    png = base64.b64decode(answer["outputs"]["images_png_bytes"][0]["b64"])
    assert Image.open(io.BytesIO(png)).size == (28, 28)


def test_sample_signature_over_rest_and_grpc_agree_and_decode_pngs(server):
    rest_images, rest_png = serving.RestClient(server.rest_url, "digits").sample(4, seed=11)
    grpc_client = serving.GrpcClient(server.grpc_target, "digits")
    grpc_images, grpc_png = grpc_client.sample(4, seed=11)
    grpc_client.close()
    assert rest_images.shape == (4, 28, 28, 1)
    np.testing.assert_allclose(rest_images, grpc_images, atol=1e-6)
    assert rest_png == grpc_png
    decoded = np.asarray(Image.open(io.BytesIO(rest_png[0])))
    np.testing.assert_array_equal(decoded, np.round(rest_images[0, ..., 0] * 255).astype(np.uint8))


def test_grpc_predict_matches_the_generator(server):
    z = np.random.default_rng(1).normal(size=(2, LATENT)).astype(np.float32)
    client = serving.GrpcClient(server.grpc_target, "digits", version=2)
    np.testing.assert_allclose(client.generate(z), _expected(server.generator, z), atol=1e-5)
    with pytest.raises(serving.ServingError, match=r"INVALID_ARGUMENT.*\[None, 8\]"):
        client.generate(np.zeros((2, LATENT + 1), np.float32))
    client.close()


def test_rest_errors_are_one_clear_line(server):
    with pytest.raises(serving.ServingError, match=r"400.*expects \[None, 8\]"):
        serving.RestClient(server.rest_url, "digits").generate(np.zeros((2, 3), np.float32))
    with pytest.raises(serving.ServingError, match=r"404.*Servable not found"):
        serving.RestClient(server.rest_url, "nope").status()
    with pytest.raises(serving.ServingError, match=r"400.*num_samples must be at most 4096"):
        serving.RestClient(server.rest_url, "digits").sample(5000, seed=0)


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_connection_refused_and_timeout():
    with pytest.raises(serving.ServingError, match="cannot reach TF Serving"):
        serving.RestClient(f"http://127.0.0.1:{_free_port()}", "digits", timeout=5).status()
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(serving.ServingError, match=r"no answer .* within 0.5 s"):
            serving.RestClient(url, "digits", timeout=0.5).status()
    with pytest.raises(serving.ServingError, match="cannot reach TF Serving"):
        serving.GrpcClient(f"127.0.0.1:{_free_port()}", "digits", timeout=5).sample(1, 0)


def test_serve_client_command(server, tmp_path):
    result = run_cli("serve-client", "--url", server.rest_url, "--model", "digits", "--n", "4",
                     "--out", str(tmp_path / "served.npz"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert np.load(tmp_path / "served.npz")["images"].shape == (4, 28, 28, 1)
    result = run_cli("serve-client", "--grpc", server.grpc_target, "--model", "digits", "--n", "2",
                     "--out", str(tmp_path / "grpc.png"))
    assert result.returncode == 0, result.stderr[-2000:]
    for args, expected in ((["--n", "0"], "num_samples must be at least 1"),
                           (["--n", "4097"], "num_samples must be at most 4096")):
        bad = run_cli("serve-client", "--url", server.rest_url, "--model", "digits", *args)
        assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and expected in bad.stderr, bad.stderr
    refused = run_cli("serve-client", "--url", f"http://127.0.0.1:{_free_port()}", "--model", "digits")
    assert refused.returncode == 2 and "cannot reach TF Serving" in refused.stderr


def test_a_served_stylegan_takes_a_truncation_over_rest_and_grpc(tmp_path, tmp_path_factory):
    from gan_tf.models import build_stylegan_generator
    from gan_tf.models.style import set_noise_strength

    generator = build_stylegan_generator(8, 1, LATENT, width=4, max_width=8, mapping_layers=2)
    set_noise_strength(generator, 0.0)
    generator.get_layer("truncate_w").w_avg.assign(np.linspace(-1, 1, LATENT).astype(np.float32))
    version = export.export_generator(generator, "styles", str(tmp_path_factory.mktemp("styles")))
    z = np.random.default_rng(3).normal(size=(3, LATENT)).astype(np.float32)
    with StubServer({"styles": {1: version}}) as stub:
        rest = serving.RestClient(stub.rest_url, "styles")
        images, _ = rest.sample(3, seed=2, truncation=0.0)
        np.testing.assert_allclose(images[0], images[2], atol=1e-5)  # psi 0: the average w for every z
        generated = rest.generate(z, truncation=0.0)
        np.testing.assert_allclose(generated[0], generated[1], atol=1e-5)
        grpc_client = serving.GrpcClient(stub.grpc_target, "styles")
        np.testing.assert_allclose(grpc_client.generate(z, truncation=1.0), rest.generate(z, truncation=1.0),
                                   atol=1e-5)
        grpc_client.close()
        result = run_cli("serve-client", "--url", stub.rest_url, "--model", "styles", "--n", "2",
                         "--truncation", "0.5", "--out", str(tmp_path / "styles.npz"))
        assert result.returncode == 0, result.stderr[-2000:]
        assert np.load(tmp_path / "styles.npz")["images"].shape == (2, 8, 8, 1)
