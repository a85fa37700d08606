"""`Conditioning`: the one place G's inputs are built, and the same numbers as before it existed."""

import ast
import os

import numpy as np
import pytest
import tensorflow as tf
from conftest import REPO

from gan_tf import classifier, data, evaluation, export, sampling
from gan_tf.conditioning import Conditioning
from gan_tf.config import preset_config
from gan_tf.errors import UserError
from gan_tf.train import train

# First measured with gan-tf at commit 8e05a6a, before G's inputs moved into gan_tf.conditioning (its
# GAN._generator_inputs, GeneratorInputs and export signatures); re-measured at commit c51652d, when
# the data order became a (seed, epoch)-keyed permutation (gan_tf.data.to_dataset, issue 14): the
# two steps now see other real digits, the noise is unchanged. By the same steps as the test below:
# final losses of two training steps, 6 samples (seed 3) from the saved EMA generator, the same from
# its SavedModel, the `sample` signature (seed 5), class control (3 per class) and FD of 50 samples.
# Re-measured at the commit after c9ea74f: the sampling generator's BatchNorm is re-measured on 512 draws
# (moves every sample a little), and the default recipe became D of width 32 with lazy R1, no label
# smoothing and Adam at 1e-3 (issue 16; dcgan's losses too; cgan and infogan keep the classic values).
# dcgan's again when G's update began to reuse D's last fakes (`reuse_fakes`, the default since).
REFERENCE = {
    "dcgan": {"d_loss": 3.8058416843414307, "g_loss": 0.7385725975036621, "sample_sum": 3091.719970703125,
              "sample_pixel": 0.8110045790672302, "served_sum": 3091.719970703125,
              "signature_sample_sum": 2044.851318359375, "fd": 1037.3262502547773},
    "cgan": {"d_loss": 3.649315118789673, "g_loss": 3.683359146118164, "sample_sum": 2127.4111328125,
             "sample_pixel": 0.23949041962623596, "served_sum": 2127.4111328125,
             "signature_sample_sum": 1405.2415771484375, "control": 0.1, "fd": 774.0825585103771},
    "infogan": {"d_loss": 32.35480499267578, "g_loss": 20.04572296142578, "sample_sum": 3083.29638671875,
                "sample_pixel": 0.8221501111984253, "served_sum": 3083.29638671875,
                "signature_sample_sum": 2051.285400390625, "control": 0.1, "fd": 1024.0646520721161},
}


@pytest.fixture(scope="module")
def thirty_two_digits(tmp_path_factory):
    image_set = data.load("mnist-5k")
    picked = np.arange(0, 5000, 5000 // 32)[:32]  # 3 or 4 of every digit
    path = tmp_path_factory.mktemp("reference") / "digits.npz"
    np.savez(path, images=image_set.images[picked], labels=image_set.labels[picked])
    return str(path), image_set


@pytest.mark.parametrize("preset", sorted(REFERENCE))
def test_training_sampling_ema_export_and_evaluation_match_the_reference(tmp_path, thirty_two_digits, preset):
    path, image_set = thirty_two_digits
    config = preset_config(preset, dataset=path, epochs=1, batch_size=16, latent_dim=8, generator_width=4,
                           discriminator_width=4, sample_grid=2, output_dir=str(tmp_path / "runs"),
                           run_name=preset, fd_every=0, ema_decay=0.9)
    result = train(config, verbose=False)  # two steps; the saved generator carries the EMA weights
    generator = sampling.load_generator(result.generator_path)
    images = sampling.sample_unit_images(generator, 6, seed=3)
    exported = export.export_generator(generator, preset, str(tmp_path / "saved_models"))
    served = sampling.sample_unit_images(sampling.SavedModelGenerator(exported), 6, seed=3)
    arguments = {"num_samples": tf.constant(4), "seed": tf.constant(5, tf.int64)}
    if preset != "dcgan":
        arguments["label"] = tf.constant(-1)
    signature_images = tf.saved_model.load(exported).signatures["sample"](**arguments)["images"].numpy()
    real = image_set.images[:200].astype(np.float32) / 255.0
    report = evaluation.evaluate(sampling.sample_unit_images(generator, 50, seed=0), real,
                                 evaluation.classifier_extractor(), seed=0)
    measured = {"d_loss": float(result.history[-1]["d_loss"]), "g_loss": float(result.history[-1]["g_loss"]),
                "sample_sum": float(images.sum()), "sample_pixel": float(images.reshape(-1)[300]),
                "served_sum": float(served.sum()), "signature_sample_sum": float(signature_images.sum()),
                "fd": report["generator"]["fd"]}
    if preset != "dcgan":
        control = evaluation.class_control(generator, classifier.load_classifier(), per_class=3, seed=1)
        measured["control"] = control.get("label_accuracy", control.get("code_agreement"))
    for name, expected in REFERENCE[preset].items():
        # Bit-identical on the machine that measured them; the tolerance allows other CPUs' rounding.
        np.testing.assert_allclose(measured[name], expected, rtol=1e-3, err_msg=f"{preset}: {name}")


def test_only_the_conditioning_module_draws_g_inputs():
    """No module but gan_tf/conditioning.py draws z or builds G's inputs (walked with ast)."""
    drawers = {"standard_normal", "stateless_normal", "normal", "integers", "stateless_uniform"}
    allowed = {("gan_tf/gan.py", "stateless_uniform"),  # WGAN-GP's interpolation weights, not G's inputs
               ("gan_tf/models/style.py", "normal"),  # NoiseInjection: per-pixel noise inside G, like Dropout
               ("gan_tf/data.py", "integers"),  # mnist-m-5k's choice of photograph crops, not G's inputs
               ("gan_tf/throughput.py", "normal")}  # the matrices of the matmul peak benchmark
    offenders = []
    package = os.path.join(REPO, "gan_tf")
    for root, _, names in os.walk(package):
        for name in names:
            if not name.endswith(".py") or os.path.join(root, name) == os.path.join(package, "conditioning.py"):
                continue
            with open(os.path.join(root, name)) as file:
                tree = ast.parse(file.read())
            for node in ast.walk(tree):
                relative = os.path.relpath(os.path.join(root, name), REPO)
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and node.func.attr in drawers and (relative, node.func.attr) not in allowed):
                    offenders.append(f"{os.path.relpath(os.path.join(root, name), REPO)}:{node.lineno}")
    assert not offenders, f"G's noise is drawn outside gan_tf.conditioning at {offenders}"


def test_inputs_by_name_and_their_checks():
    conditioning = Conditioning(latent_dim=4, categories=3, continuous=2)
    assert conditioning.names == ["z", "code", "continuous"] and conditioning.class_input == "code"
    inputs = conditioning.build(conditioning.noise(5, seed=0))
    np.testing.assert_array_equal(inputs["code"], [0, 1, 2, 0, 1])  # classes in turn by default
    assert inputs["continuous"].shape == (5, 2) and np.abs(inputs["continuous"]).max() <= 1
    np.testing.assert_array_equal(conditioning.noise(5, seed=0),
                                  np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32))
    with pytest.raises(UserError, match=r"labels must be in 0..2"):
        conditioning.build(np.zeros((2, 4)), labels=3)
    with pytest.raises(UserError, match=r"takes \[batch, 4\]"):
        conditioning.build(np.zeros((2, 5)))
    with pytest.raises(UserError, match="unconditional"):
        Conditioning(latent_dim=4).build(np.zeros((2, 4)), labels=1)
    noise, labels, columns = Conditioning(4, num_classes=10).grid_inputs(side=3, seed=0)
    assert noise.shape == (30, 4) and columns == 10 and list(labels[:12]) == list(range(10)) + [0, 1]
    np.testing.assert_array_equal(noise[0], noise[9])  # one z per row, drawn as every class


def test_draws_are_stateless_seeded_and_shaped_per_kind():
    conditioning = Conditioning(latent_dim=4, num_classes=10)

    def seed(stream):
        return tf.constant([7, stream], tf.int64)

    first, again = conditioning.draw(6, seed), conditioning.draw(6, seed)
    np.testing.assert_array_equal(first.inputs[0], again.inputs[0])
    assert first.inputs[0].shape == (6, 4) and first.inputs[1].dtype == tf.int32
    np.testing.assert_array_equal(first.condition, first.inputs[1])  # D sees the labels G was given
    info = Conditioning(latent_dim=4, categories=10, continuous=2).draw(6, seed)
    assert info.condition is None and len(info.inputs) == 3 and info.codes[1].shape == (6, 2)


def test_generators_gan_tf_cannot_feed_are_refused_with_what_to_do():
    import keras

    z, label = keras.Input((4,), name="z"), keras.Input((), dtype="int32", name="label")
    embedded = keras.layers.Embedding(10, 4, name="my_embedding")(label)
    unnamed = keras.Model([z, label], keras.layers.Concatenate()([z, embedded]))
    with pytest.raises(UserError, match="must feed an Embedding named 'label_embedding'"):
        Conditioning.of(unnamed)
    style = keras.Input((4,), name="style")
    with pytest.raises(UserError, match=r"\['style'\] are not z, label, code, continuous, mix_z"):
        Conditioning.of(keras.Model([z, style], keras.layers.Add()([z, style])))
    mix_z = keras.Input((4,), name="mix_z")  # a style input without the rest (crossover, truncation, StyleMix)
    with pytest.raises(UserError, match="takes all of"):
        Conditioning.of(keras.Model([z, mix_z], keras.layers.Add()([z, mix_z])))
    images = keras.Input((28, 28, 1), name="images")
    with pytest.raises(UserError, match="is it a generator"):
        Conditioning.of(keras.Model(images, keras.layers.Flatten()(images)))


def test_a_saved_model_whose_metadata_disagrees_with_its_signature_is_refused():
    shapes = {"z": (None, 8), "label": (None,)}
    assert Conditioning.from_metadata(8, {"num_classes": 10}, shapes) == Conditioning(8, num_classes=10)
    with pytest.raises(UserError, match="re-export"):
        Conditioning.from_metadata(8, {}, shapes)  # no class count: the label input would be dropped
