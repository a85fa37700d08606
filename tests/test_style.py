"""Progressive growing and style-based generators (gan_tf.models.style), on 8x8 and 16x16 images."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_tf import checkpoints
from gan_tf.conditioning import Conditioning
from gan_tf.errors import UserError
from gan_tf.gan import GAN
from gan_tf.models import style
from tests.conftest import tiny_config

LATENT = 8
RNG = np.random.default_rng(0)


def _stylegan(size=8, **options):
    options = {"image_size": size, "channels": 1, "latent_dim": LATENT, "width": 4, "max_width": 8,
               "mapping_layers": 2, **options}
    return style.build_stylegan_generator(**options)


def _inputs(conditioning, count=3, seed=0, truncation=None):
    return conditioning.build(conditioning.noise(count, seed), truncation=truncation)


def _images(generator, inputs):
    return np.asarray(Conditioning.of(generator).generate(generator, inputs))


def _zero_noise(generator):
    style.set_noise_strength(generator, 0.0)


def _randomize_noise_scales(generator):
    style.set_noise_strength(generator, 0.5)


# Every layer: shapes, get_config round trip, .keras save and reload ------------------------------

def _x(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


LAYER_CASES = [
    ("EqualizedDense", lambda: style.EqualizedDense(5, lr_multiplier=0.01, activation="leaky_relu"),
     lambda: [_x(2, 3)], (2, 5)),
    ("EqualizedConv2D", lambda: style.EqualizedConv2D(5, 3), lambda: [_x(2, 8, 8, 3)], (2, 8, 8, 5)),
    ("PixelNorm", lambda: style.PixelNorm(), lambda: [_x(2, 4, 4, 3)], (2, 4, 4, 3)),
    ("Upsample", lambda: style.Upsample("bilinear"), lambda: [_x(2, 4, 4, 3)], (2, 8, 8, 3)),
    ("Downsample", lambda: style.Downsample("bilinear"), lambda: [_x(2, 8, 8, 3)], (2, 4, 4, 3)),
    ("Progress", lambda: style.Progress(initial=0.5), lambda: [_x(2, 8, 8, 3)], (2, 1)),
    ("FadeIn", lambda: style.FadeIn(1), lambda: [[_x(2, 4, 4, 3), _x(2, 4, 4, 3), np.full((2, 1), 1.5, np.float32)]],
     (2, 4, 4, 3)),
    ("LevelOfDetail", lambda: style.LevelOfDetail(3),
     lambda: [[_x(2, 16, 16, 1), np.full((2, 1), 0.5, np.float32)]], (2, 16, 16, 1)),
    ("Truncation", lambda: style.Truncation(0.9), lambda: [[_x(2, 6), np.full((2,), 0.7, np.float32)]], (2, 6)),
    ("StyleMix", lambda: style.StyleMix(4), lambda: [[_x(2, 6), _x(2, 6), np.array([1, 4], np.int32)]], (2, 4, 6)),
    ("AdaIN", lambda: style.AdaIN(), lambda: [[_x(2, 4, 4, 3), _x(2, 6)]], (2, 4, 4, 3)),
    ("ModulatedConv2D", lambda: style.ModulatedConv2D(5, 3, upsample="nearest"),
     lambda: [[_x(2, 4, 4, 3), _x(2, 6)]], (2, 8, 8, 5)),
    ("NoiseInjection", lambda: style.NoiseInjection(seed=3), lambda: [_x(2, 4, 4, 3)], (2, 4, 4, 3)),
    ("LearnedConstant", lambda: style.LearnedConstant(5), lambda: [_x(2, 6)], (2, 4, 4, 5)),
    ("BiasActivation", lambda: style.BiasActivation(), lambda: [_x(2, 4, 4, 3)], (2, 4, 4, 3)),
]


@pytest.mark.parametrize("name, make, arguments, shape", LAYER_CASES, ids=[case[0] for case in LAYER_CASES])
def test_every_layer_has_its_shape_config_and_survives_a_keras_save(tmp_path, name, make, arguments, shape):
    layer = make()
    values = arguments()
    output = layer(*values)
    assert tuple(output.shape) == shape
    assert type(layer).from_config(layer.get_config()).get_config() == layer.get_config()

    def symbolic(value):
        if isinstance(value, list):
            return [symbolic(item) for item in value]
        return keras.Input(value.shape[1:], dtype=value.dtype)

    inputs = symbolic(values[0])
    model = keras.Model(inputs, make()(inputs))
    for weight in model.weights:  # non-default values, so a reload that lost them would show
        weight.assign(RNG.uniform(0.5, 1.5, weight.shape).astype(np.float32))
    path = str(tmp_path / f"{name}.keras")
    model.save(path)
    reloaded = keras.models.load_model(path)
    assert [w.path for w in reloaded.weights] == [w.path for w in model.weights]
    for before, after in zip(model.weights, reloaded.weights):
        np.testing.assert_array_equal(np.asarray(before), np.asarray(after))
    if name != "NoiseInjection":  # random on every call by design
        np.testing.assert_allclose(np.asarray(reloaded(values[0])), np.asarray(model(values[0])), rtol=1e-5, atol=1e-5)


def test_equalized_layers_scale_weights_by_he_constant_at_run_time():
    layer = style.EqualizedDense(1, gain=1.0, lr_multiplier=0.5)
    layer.build((None, 4))
    layer.kernel.assign(np.ones((4, 1), np.float32))
    layer.bias.assign(np.ones((1,), np.float32))
    # out = x @ (W * gain / sqrt(fan_in) * lr) + b * lr
    np.testing.assert_allclose(np.asarray(layer(np.ones((1, 4), np.float32))), [[4 * 0.5 * 0.5 + 0.5]])


def test_modulated_convolution_equals_convolving_with_the_modulated_demodulated_weights():
    layer = style.ModulatedConv2D(4, 3)
    x, w = _x(2, 5, 5, 3), _x(2, 6)
    output = np.asarray(layer([x, w]))
    s = np.asarray(layer.style(w))
    for sample in range(2):
        weights = np.asarray(layer.kernel) * layer.scale * s[sample][None, None, :, None]
        weights /= np.sqrt(np.sum(weights ** 2, axis=(0, 1, 2), keepdims=True) + 1e-8)
        expected = tf.nn.conv2d(x[sample:sample + 1], weights, 1, "SAME")
        np.testing.assert_allclose(output[sample:sample + 1], expected, rtol=1e-4, atol=1e-4)


# Growing ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("alpha", [0.0, 0.3, 1.0])
def test_fade_in_output_at_progress_a_is_the_a_blend_of_the_two_paths(alpha):
    old, new = _x(2, 4, 4, 3), _x(2, 4, 4, 3)
    out = style.FadeIn(2)([old, new, np.full((2, 1), 2.0 + alpha, np.float32)])
    np.testing.assert_allclose(np.asarray(out), (1 - alpha) * old + alpha * new, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("builder", ["progan", "stylegan"])
def test_generator_output_mid_fade_is_the_blend_of_the_levels_on_either_side(builder):
    generator = (style.build_progan_generator(8, 1, LATENT, 4, 8) if builder == "progan" else _stylegan())
    _zero_noise(generator)
    conditioning = Conditioning.of(generator)
    inputs = _inputs(conditioning)
    outputs = {}
    for progress in (0.0, 0.25, 1.0):
        style.set_progress(generator, progress)
        outputs[progress] = _images(generator, inputs)
    np.testing.assert_allclose(outputs[0.25], 0.75 * outputs[0.0] + 0.25 * outputs[1.0], rtol=1e-5, atol=1e-5)
    coarse = outputs[0.0]  # level 0 only: every 2x2 block of the 8x8 image is one 4x4 pixel
    np.testing.assert_array_equal(coarse[:, ::2, ::2], coarse[:, 1::2, 1::2])
    assert not np.allclose(outputs[1.0][:, ::2, ::2], outputs[1.0][:, 1::2, 1::2])


def test_level_of_detail_leaves_what_g_draws_unchanged_and_drops_finer_detail():
    layer = style.LevelOfDetail(3)
    coarse = np.repeat(np.repeat(_x(2, 8, 8, 1), 2, axis=1), 2, axis=2)  # a 16x16 image G draws at progress 1
    at_one = np.full((2, 1), 1.0, np.float32)
    np.testing.assert_allclose(np.asarray(layer([coarse, at_one])), coarse, rtol=1e-6, atol=1e-6)
    detailed = _x(2, 16, 16, 1)
    viewed = np.asarray(layer([detailed, at_one]))
    np.testing.assert_allclose(viewed[:, ::2, ::2], viewed[:, 1::2, 1::2])  # only 8x8 detail is left
    np.testing.assert_allclose(np.asarray(layer([detailed, np.full((2, 1), 2.0, np.float32)])), detailed, atol=1e-6)


def test_progress_schedule_follows_progans_phases():
    growth, levels = 100, 4
    assert style.progress_at(0, growth, levels) == 0.0
    assert style.progress_at(100, growth, levels) == 0.0  # level 0 alone
    assert style.progress_at(150, growth, levels) == 0.5  # level 1 fading in
    assert style.progress_at(250, growth, levels) == 1.0  # level 1 stable
    assert style.progress_at(350, growth, levels) == 1.5
    assert style.progress_at(10_000, growth, levels) == 3.0  # never past the last level
    assert style.progress_at(0, 0, levels) == 3.0  # no growing


def _count_traces(monkeypatch):
    traces = []
    original = GAN.train_step

    def counting(self, data):
        traces.append(1)  # Python runs only while tracing
        return original(self, data)

    monkeypatch.setattr(GAN, "train_step", counting)
    return traces


def test_the_train_function_is_traced_once_while_the_resolution_changes(tmp_path, digits_npz, monkeypatch):
    from gan_tf.train import train

    traces = _count_traces(monkeypatch)
    # 128 digits padded to 32x32, batches of 16: growth over 16 images moves progress every step.
    config = tiny_config(tmp_path, digits_npz, preset="stylegan", growth_images=16, epochs=2, fd_every=0,
                         mapping_layers=2, run_name="grow")
    result = train(config, verbose=False)
    progress = [float(row["progress"]) for row in result.history]
    assert progress == [3.0, 3.0] and len(traces) == 1


def test_resume_in_the_middle_of_a_fade_continues_at_the_same_progress(tmp_path, digits_npz):
    from gan_tf.train import train

    config = tiny_config(tmp_path, digits_npz, preset="progan", growth_images=64, epochs=1, fd_every=0)
    first = train(config, verbose=False)
    # The last step of epoch 1 starts after 7 x 16 images: 48 past level 0's 64, level 1 is 3/4 in.
    assert float(first.history[-1]["progress"]) == 0.75
    saved = checkpoints.latest(first.run_dir)
    with np.load(saved) as archive:
        assert float(archive["generator/progress/progress"]) == 0.75
        assert float(archive["discriminator/progress/progress"]) == 0.75
    resumed = train(config.replace(epochs=2, resume=True), verbose=False)
    # As an uninterrupted run: 240 images before the last step of epoch 2, level 2 is 3/4 in.
    assert [float(row["progress"]) for row in resumed.history] == [0.75, 1.75]


# Styles -------------------------------------------------------------------------------------------

def test_swapping_the_second_latent_changes_only_the_layers_after_the_crossover():
    generator = _stylegan(size=16)
    _zero_noise(generator)
    conditioning = Conditioning.of(generator)
    assert conditioning.styles == 6
    synthesis = generator.get_layer(style.SYNTHESIS_MODEL)
    probe = keras.Model(generator.inputs, [
        generator.get_layer(style.STYLE_MIX_LAYER).output,
        keras.Model(synthesis.inputs, synthesis.get_layer("level0_conv1_style").output)(
            generator.get_layer(style.STYLE_MIX_LAYER).output),
        keras.Model(synthesis.inputs, synthesis.get_layer("level1_conv1_style").output)(
            generator.get_layer(style.STYLE_MIX_LAYER).output)])
    inputs = _inputs(conditioning)
    crossover = 2  # styles 0, 1 (level 0) from z; the rest from mix_z
    first = dict(inputs, mix_z=conditioning.noise(3, 1), crossover=np.full(3, crossover, np.int32))
    second = dict(first, mix_z=conditioning.noise(3, 2))
    (w_a, level0_a, level1_a), (w_b, level0_b, level1_b) = (
        [np.asarray(out) for out in probe([values[name] for name in conditioning.names])] for values in (first, second))
    np.testing.assert_array_equal(w_a[:, :crossover], w_b[:, :crossover])
    assert np.all(np.any(w_a[:, crossover:] != w_b[:, crossover:], axis=-1))
    np.testing.assert_array_equal(level0_a, level0_b)
    assert not np.allclose(level1_a, level1_b)
    unmixed = [dict(inputs, mix_z=conditioning.noise(3, seed)) for seed in (1, 2)]  # crossover = styles
    np.testing.assert_array_equal(_images(generator, unmixed[0]), _images(generator, unmixed[1]))


def test_truncation_zero_gives_the_same_image_for_every_z():
    generator = _stylegan()
    _zero_noise(generator)
    generator.get_layer(style.TRUNCATION_LAYER).w_avg.assign(_x(LATENT))
    conditioning = Conditioning.of(generator)
    images = _images(generator, _inputs(conditioning, count=4, truncation=0.0))
    for image in images[1:]:
        np.testing.assert_allclose(image, images[0], rtol=1e-5, atol=1e-6)
    untruncated = _images(generator, _inputs(conditioning, count=4))
    assert not np.allclose(untruncated[0], untruncated[1])


def test_truncation_tracks_the_average_w_while_training():
    layer = style.Truncation(decay=0.5)
    w = _x(16, 4)
    layer([w, np.ones(16, np.float32)], training=True)
    np.testing.assert_allclose(np.asarray(layer.w_avg), 0.5 * w.mean(axis=0), rtol=1e-5)
    layer([w, np.ones(16, np.float32)], training=False)  # sampling does not move it
    np.testing.assert_allclose(np.asarray(layer.w_avg), 0.5 * w.mean(axis=0), rtol=1e-5)


def test_with_noise_scales_at_zero_the_output_is_deterministic_for_a_fixed_z():
    generator = _stylegan()
    conditioning = Conditioning.of(generator)
    inputs = _inputs(conditioning)
    _randomize_noise_scales(generator)
    assert not np.allclose(_images(generator, inputs), _images(generator, inputs))  # noise on: differs
    _zero_noise(generator)
    np.testing.assert_array_equal(_images(generator, inputs), _images(generator, inputs))


def test_mixing_draws_mix_at_the_asked_rate_with_crossovers_inside_the_generator():
    conditioning = Conditioning(latent_dim=LATENT, styles=6).with_mixing(0.5)
    draw = conditioning.draw(4000, lambda stream: tf.constant([7, stream], tf.int64))
    z, mix_z, crossover, truncation = [np.asarray(value) for value in draw.inputs]
    mixed = crossover < 6
    assert 0.45 < mixed.mean() < 0.55
    assert set(crossover[mixed].tolist()) == {1, 2, 3, 4, 5}
    assert not np.allclose(z, mix_z) and np.all(truncation == 1.0)
    unmixed = Conditioning(latent_dim=LATENT, styles=6).draw(100, lambda stream: tf.constant([7, stream], tf.int64))
    assert np.all(np.asarray(unmixed.inputs[2]) == 6)


def test_style_options_are_checked():
    with pytest.raises(UserError, match="--style-mixing needs a style-based"):
        Conditioning(latent_dim=LATENT).with_mixing(0.9)
    with pytest.raises(UserError, match="power-of-two"):
        _stylegan(size=28)
    with pytest.raises(UserError, match="--style-modulation"):
        _stylegan(style_mode="spade")
    with pytest.raises(UserError, match="only style-based generators"):
        Conditioning(latent_dim=LATENT).build(np.zeros((1, LATENT)), truncation=0.5)


@pytest.mark.parametrize("options", [dict(style_mode="demodulation"), dict(constant_input=False, noise_inputs=False),
                                     dict(resample="nearest", mapping_layers=0)])
def test_every_stylegan_variant_trains_a_step_and_reloads(tmp_path, options):
    generator = _stylegan(**options)
    discriminator = style.build_progressive_discriminator(8, 1, 4, 8, resample=options.get("resample", "bilinear"))
    trainer = GAN(generator, discriminator, ema_decay=0.9, style_mixing=0.9)
    trainer.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    logs = trainer.train_on_batch(_x(8, 8, 8, 1))
    assert np.all(np.isfinite(logs))
    path = str(tmp_path / "g.keras")
    sampling = trainer.build_sampling_generator()
    sampling.save(path)
    reloaded = keras.models.load_model(path)
    _zero_noise(sampling)
    _zero_noise(reloaded)
    inputs = _inputs(Conditioning.of(reloaded), truncation=0.7)
    np.testing.assert_allclose(_images(reloaded, inputs), _images(sampling, inputs), rtol=1e-5, atol=1e-5)


def test_a_stylegan_step_runs_under_mirrored_strategy():
    # Two CPU replicas in graph mode (XLA, which cannot place two CPU replicas' variables, is tested
    # per preset in test_xla.py). The process's one MirroredStrategy (gan_tf.distribute): a second
    # instance's collectives clash.
    from gan_tf import distribute

    strategy = distribute.make_strategy("mirrored")
    assert strategy.num_replicas_in_sync == 2
    with strategy.scope():
        trainer = GAN(_stylegan(), style.build_progressive_discriminator(8, 1, 4, 8), ema_decay=0.9,
                      style_mixing=0.9, regularization=None)
        trainer.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    dataset = tf.data.Dataset.from_tensor_slices(_x(32, 8, 8, 1)).batch(16)
    style.set_progress(trainer.generator, 0.5)
    style.set_progress(trainer.discriminator, 0.5)
    history = trainer.fit(dataset, epochs=1, verbose=0)
    assert np.isfinite(history.history["d_loss"][-1])
    w_avg = np.asarray(trainer.generator.get_layer(style.TRUNCATION_LAYER).w_avg)
    assert np.any(w_avg != 0)  # tracked during training, on both replicas alike


# Using them: mixing, sampling with truncation, export -----------------------------------------

def test_style_ranges_split_levels_into_coarse_middle_and_fine():
    from gan_tf.mixing import style_ranges

    assert style_ranges(8) == {"coarse": (0, 4), "middle": (4, 6), "fine": (6, 8)}  # 32x32: 4-8, 16, 32
    assert style_ranges(10) == {"coarse": (0, 4), "middle": (4, 8), "fine": (8, 10)}  # 64x64
    assert style_ranges(4) == {"coarse": (0, 2), "fine": (2, 4)}  # 8x8: no middle


def test_mixing_any_number_of_latents_matches_the_generator_where_it_can():
    from gan_tf.mixing import mixed_unit_images

    generator = _stylegan(size=16)
    _zero_noise(generator)
    conditioning = Conditioning.of(generator)
    z, other = conditioning.noise(3, 0), conditioning.noise(3, 1)
    through_g = dict(conditioning.build(z, truncation=0.7), mix_z=other, crossover=np.full(3, 4, np.int32))
    expected = np.clip((_images(generator, through_g) + 1) / 2, 0, 1)
    mixed = mixed_unit_images(generator, [z, other], [0, 0, 0, 0, 1, 1], truncation=0.7)
    np.testing.assert_allclose(mixed, expected, rtol=1e-5, atol=1e-5)
    three = mixed_unit_images(generator, [z, other, conditioning.noise(3, 2)], [0, 0, 1, 1, 2, 2])
    assert three.shape == (3, 16, 16, 1) and not np.allclose(three, mixed)
    with pytest.raises(UserError, match="style-based generator"):
        mixed_unit_images(style.build_progan_generator(8, 1, LATENT, 4, 8), [z], [0, 0, 0, 0])


@pytest.fixture(scope="module")
def stylegan_files(tmp_path_factory):
    """A tiny style-based G saved as .keras and exported as a SavedModel (noise scales at zero)."""
    from gan_tf import export

    folder = tmp_path_factory.mktemp("stylegan")
    generator = _stylegan(size=16)
    _zero_noise(generator)
    generator.get_layer(style.TRUNCATION_LAYER).w_avg.assign(RNG.standard_normal(LATENT).astype(np.float32))
    generator.save(str(folder / "generator.keras"))
    version = export.export_generator(generator, "stylegan", str(folder / "saved_models"))
    return generator, folder, version


def test_the_exported_stylegan_takes_z_and_truncation_under_saved_model_cli(stylegan_files):
    import subprocess

    from tests.test_export import SAVED_MODEL_CLI

    generator, folder, version = stylegan_files
    shown = subprocess.run([SAVED_MODEL_CLI, "show", "--dir", version, "--all"], capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert "inputs['truncation']" in shown.stdout and "inputs['mix_z']" not in shown.stdout
    z = Conditioning.of(generator).noise(2, 5)
    outdir = str(folder / "cli_out")
    ran = subprocess.run([SAVED_MODEL_CLI, "run", "--dir", version, "--tag_set", "serve", "--signature_def",
                          "serving_default", "--input_exprs", f"z={z.tolist()};truncation=[0.0, 0.0]",
                          "--outdir", outdir], capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr[-2000:]
    images = np.load(str(folder / "cli_out" / "images.npy"))
    assert images.shape == (2, 16, 16, 1)
    np.testing.assert_allclose(images[0], images[1], atol=1e-5)  # psi 0: w_avg for every z
    inputs = Conditioning.of(generator).build(z, truncation=0.0)
    np.testing.assert_allclose(images, np.clip((_images(generator, inputs) + 1) / 2, 0, 1), atol=1e-5)


def test_sample_signature_takes_a_truncation(stylegan_files):
    _, _, version = stylegan_files
    sample = tf.saved_model.load(version).signatures["sample"]
    images = {psi: sample(num_samples=tf.constant(3), seed=tf.constant(1, tf.int64),
                          truncation=tf.constant(psi))["images"].numpy() for psi in (0.0, 1.0)}
    np.testing.assert_allclose(images[0.0][0], images[0.0][2], atol=1e-5)
    assert not np.allclose(images[1.0][0], images[1.0][2])


def test_cli_samples_with_truncation_and_writes_the_mixing_grid(stylegan_files, tmp_path):
    from PIL import Image

    from tests.conftest import run_cli

    _, folder, version = stylegan_files
    for model in (str(folder / "generator.keras"), version):
        out = str(tmp_path / f"truncated{len(model)}.npz")
        result = run_cli("sample", "--model", model, "--n", "4", "--truncation", "0", "--out", out)
        assert result.returncode == 0, result.stderr[-2000:]
        images = np.load(out)["images"]
        np.testing.assert_allclose(images[0], images[3], atol=1e-5)
    grid = str(tmp_path / "mix.png")
    result = run_cli("style-mix", "--model", str(folder / "generator.keras"), "--row-seeds", "1", "2",
                     "--column-seeds", "3", "4", "5", "--out", grid)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "coarse" in result.stdout and "fine" in result.stdout
    # 1 + 3 ranges x 2 row seeds = 7 rows and 4 columns of 16x16 tiles with 2-pixel padding, scaled x2
    assert Image.open(grid).size == (2 * (4 * 18 + 2), 2 * (7 * 18 + 2))
    refused = run_cli("sample", "--model", version, "--n", "2", "--truncation", "nan", "--out", str(tmp_path / "x.png"))
    assert refused.returncode == 2 and "finite" in refused.stderr


def test_minibatch_std_in_groups_gives_each_sample_its_groups_deviation():
    from gan_tf.models.layers import MinibatchStdDev

    x = _x(8, 2, 2, 3)
    feature = np.asarray(MinibatchStdDev(group_size=4)(x))[..., 3]
    for group in range(2):  # sample i is in group i % 2, as ProGAN reshapes [group_size, groups, ...]
        expected = np.sqrt(x[group::2].var(axis=0) + 1e-8).mean()
        np.testing.assert_allclose(feature[group::2], expected, rtol=1e-5)
    whole = np.asarray(MinibatchStdDev()(x))[..., 3]
    np.testing.assert_allclose(whole, np.sqrt(x.var(axis=0) + 1e-8).mean(), rtol=1e-5)


@pytest.mark.parametrize("changes, message", [
    (dict(architecture="progan", style="combined"), "--style fit"),
    (dict(architecture="stylegan", conditional=True), "unconditionally"),
    (dict(style_mixing=0.9), "--architecture stylegan"),
    (dict(architecture="stylegan", style_mixing=1.5), "probability"),
    (dict(architecture="progan", batch_size=30), "multiple of 4"),
    (dict(architecture="progan", image_size=28), "--image-size 32"),
    (dict(architecture="stylegan", growth_images=-1), "--growth-images"),
])
def test_config_refuses_what_progressive_models_cannot_do(changes, message):
    from gan_tf.config import TrainConfig

    with pytest.raises(UserError, match=message):
        TrainConfig(**changes)


def test_built_models_start_full_size_so_one_used_without_growing_draws_every_level():
    generator, discriminator = _stylegan(size=16), style.build_progressive_discriminator(16, 1, 4, 8)
    assert style.get_progress(generator) == 2.0 and style.get_progress(discriminator) == 2.0
    assert style.get_progress(style.build_progan_generator(16, 1, LATENT, 4, 8)) == 2.0
