"""The install paths: one TensorFlow on a CPU install, no tensorflow-cpu on the GPU path (issue 14).

tensorflow-cpu and tensorflow[and-cuda] unpack into the same `tensorflow/` package, so a project that
depends on one and a user who installs the other end with a mix of two wheels. The declared
requirements are read statically (pyproject.toml's extras through the requirements files); the slow
test asks pip to resolve the GPU path without installing it.
"""

import importlib.metadata
import json
import os
import re
import subprocess
import sys

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from gan_tf import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TENSORFLOW_DISTRIBUTIONS = {"tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tensorflow-intel",
                            "tensorflow-macos", "tf-nightly", "tf-nightly-cpu", "tf-nightly-gpu"}


def _project():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as handle:
        return tomllib.load(handle)["project"]


def declared_requirements(requirements_file):
    """The requirements a `pip install -r FILE` asks for, with `-e .[extras]` expanded from pyproject."""
    project = _project()
    requirements = []
    with open(os.path.join(ROOT, requirements_file)) as handle:
        for line in handle:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            editable = re.fullmatch(r"-e\s+\.(?:\[([\w,\s-]+)\])?", line)
            if editable:
                extras = [extra.strip() for extra in (editable.group(1) or "").split(",") if extra.strip()]
                requirements += [Requirement(text) for text in project["dependencies"]]
                for extra in extras:
                    requirements += [Requirement(text) for text in project["optional-dependencies"][extra]]
            else:
                assert not line.startswith("-"), f"{requirements_file}: unexpected option {line!r}"
                requirements.append(Requirement(line))
    return requirements


def tensorflow_requirements(requirements, environment=None):
    """{name: requirement} of the TensorFlow distributions `requirements` install on a machine like
    `environment` (packaging's marker variables; default: this one)."""
    return {canonicalize_name(requirement.name): requirement for requirement in requirements
            if canonicalize_name(requirement.name) in TENSORFLOW_DISTRIBUTIONS
            and (requirement.marker is None or requirement.marker.evaluate(environment))}


def test_the_package_itself_does_not_pick_a_tensorflow_wheel():
    assert not tensorflow_requirements(Requirement(text) for text in _project()["dependencies"])


@pytest.mark.parametrize("machine, wanted", [("x86_64", "tensorflow-cpu"), ("AMD64", "tensorflow-cpu"),
                                             ("aarch64", "tensorflow"), ("arm64", "tensorflow")])
def test_cpu_install_declares_exactly_one_tensorflow_per_machine(machine, wanted):
    # tensorflow-cpu has x86 wheels only; on ARM (Apple silicon, Graviton) the plain wheel is the CPU one.
    requirements = declared_requirements("requirements.txt")
    assert set(tensorflow_requirements(requirements, {"platform_machine": machine})) == {wanted}


def test_gpu_install_declares_tensorflow_with_cuda_and_no_tensorflow_cpu():
    found = tensorflow_requirements(declared_requirements("requirements-gpu.txt"), {"platform_machine": "x86_64"})
    assert set(found) == {"tensorflow"}
    assert "and-cuda" in found["tensorflow"].extras
    assert found["tensorflow"].specifier.contains("2.21.0")


def test_serving_client_is_installed_without_its_tensorflow_dependency():
    # tensorflow-serving-api requires the full `tensorflow`; with its dependencies it would land a
    # second TensorFlow on top of tensorflow-cpu. The README and CI install it with --no-deps.
    assert [r.name for r in declared_requirements("requirements-serving.txt")] == ["tensorflow-serving-api"]
    with open(os.path.join(ROOT, ".ci", "run")) as handle:
        assert "--no-deps -r requirements-serving.txt" in handle.read()
    with open(os.path.join(ROOT, "README.md")) as handle:
        assert "--no-deps -r requirements-serving.txt" in handle.read()


def test_this_environment_has_exactly_one_tensorflow_distribution():
    names = {canonicalize_name(dist.metadata["Name"]) for dist in importlib.metadata.distributions()}
    assert len(names & TENSORFLOW_DISTRIBUTIONS) == 1, names & TENSORFLOW_DISTRIBUTIONS


def test_a_missing_tensorflow_is_one_line_that_says_what_to_install(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # `import tensorflow` now fails as if absent
    assert cli.main(["train", "--epochs", "1"]) == 2
    error = capsys.readouterr().err.strip()
    assert error == f"gan-tf: error: {cli.MISSING_TENSORFLOW}"
    assert "requirements-gpu.txt" in error


@pytest.mark.slow
@pytest.mark.parametrize("requirements_file, wanted, unwanted",
                         [("requirements.txt", "tensorflow-cpu", "tensorflow"),
                          ("requirements-gpu.txt", "tensorflow", "tensorflow-cpu")])
def test_pip_resolves_each_install_to_one_tensorflow(tmp_path, requirements_file, wanted, unwanted):
    # Needs PyPI (a minute each): pip resolves the whole dependency tree without installing anything.
    report = tmp_path / "report.json"
    subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
                    "--report", str(report), "-r", requirements_file], cwd=ROOT, check=True)
    with open(report) as handle:
        names = {canonicalize_name(item["metadata"]["name"]) for item in json.load(handle)["install"]}
    assert names & TENSORFLOW_DISTRIBUTIONS == {wanted}
    assert unwanted not in names
