import keras
import numpy as np
import pytest

from gan_tf.errors import UserError
from gan_tf.models import (
    DiffAugment,
    build_discriminator,
    build_generator,
    build_sequential_discriminator,
    build_sequential_generator,
)


@pytest.mark.parametrize("size, channels", [(28, 1), (32, 3), (64, 1)])
def test_builders_give_the_promised_shapes(size, channels):
    generator = build_generator(latent_dim=8, image_size=size, channels=channels, width=4)
    discriminator = build_discriminator(image_size=size, channels=channels, width=4)
    images = generator(np.ones((2, 8), np.float32))
    assert images.shape == (2, size, size, channels)
    assert np.all(np.abs(np.asarray(images)) <= 1.0)  # tanh
    scores = np.asarray(discriminator(images))
    assert scores.shape == (2, 1) and np.all((scores >= 0) & (scores <= 1))  # sigmoid


@pytest.mark.parametrize("size, channels", [(28, 1), (32, 3), (64, 3)])
def test_sequential_and_functional_builders_are_the_same_architecture(size, channels):
    pairs = [(build_generator(16, size, channels, 8), build_sequential_generator(16, size, channels, 8)),
             (build_discriminator(size, channels, 8, augment="translation"),
              build_sequential_discriminator(size, channels, 8, augment="translation"))]
    for functional, sequential in pairs:
        assert functional.count_params() == sequential.count_params()
        assert ([type(layer).__name__ for layer in functional.layers if not isinstance(layer, keras.layers.InputLayer)]
                == [type(layer).__name__ for layer in sequential.layers])


def test_generator_input_is_named_z_and_models_are_named():
    generator = build_generator(8, width=4)
    assert generator.inputs[0].name == "z"
    assert build_sequential_generator(8, width=4).inputs[0].name == "z"
    assert generator.name == "generator"
    assert build_discriminator(width=4).name == "discriminator"


def test_logits_variant_has_no_sigmoid():
    discriminator = build_discriminator(width=4, logits=True)
    assert discriminator.get_layer("score").activation is keras.activations.linear


def test_unsupported_size_is_a_clear_error():
    with pytest.raises(UserError, match="--image-size"):
        build_generator(8, image_size=48)


def test_diff_augment_is_identity_at_inference_and_random_in_training():
    layer = DiffAugment("translation,cutout,color", seed=1)
    images = np.random.default_rng(0).uniform(-1, 1, (4, 28, 28, 1)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(layer(images, training=False)), images)
    augmented = np.asarray(layer(images, training=True))
    assert augmented.shape == images.shape
    assert not np.allclose(augmented, images)


def test_translation_moves_pixels_and_fills_with_black():
    layer = DiffAugment("translation", translation_ratio=0.25, seed=3)
    image = np.full((64, 8, 8, 1), -1.0, np.float32)
    image[:, 3:5, 3:5] = 1.0  # a bright square in the middle
    shifted = np.asarray(layer(image, training=True))
    assert set(np.unique(shifted)) <= {-1.0, 1.0}
    assert np.all((shifted == 1.0).sum(axis=(1, 2, 3)) == 4)  # square moved, never cut (shift <= 2)
    centres = [tuple(np.argwhere(sample[..., 0] == 1.0).mean(axis=0)) for sample in shifted]
    assert len(set(centres)) > 5


def test_diff_augment_passes_gradients():
    import tensorflow as tf

    layer = DiffAugment("translation,cutout", seed=0)
    images = tf.Variable(np.zeros((2, 8, 8, 1), np.float32))
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(layer(images, training=True))
    gradient = tape.gradient(total, images)
    assert gradient is not None and float(tf.reduce_sum(tf.abs(gradient))) > 0


def test_unknown_augmentation_is_rejected():
    with pytest.raises(UserError, match="translation, cutout, color"):
        DiffAugment("rotate")


@pytest.mark.parametrize("builder", ["generator", "discriminator"])
def test_models_round_trip_through_save_and_load(tmp_path, builder):
    if builder == "generator":
        model = build_generator(8, width=4)
        inputs = np.random.default_rng(0).normal(size=(3, 8)).astype(np.float32)
    else:
        model = build_discriminator(width=4, augment="translation,cutout", spectral_norm=True,
                                    minibatch_std=True, minibatch_kernels=8)
        inputs = np.random.default_rng(0).uniform(-1, 1, (3, 28, 28, 1)).astype(np.float32)
    path = tmp_path / f"{builder}.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    np.testing.assert_allclose(np.asarray(reloaded(inputs)), np.asarray(model(inputs)), atol=1e-6)


def test_minibatch_std_sees_a_collapsed_batch():
    from gan_tf.models.layers import MinibatchStdDev

    layer = MinibatchStdDev()
    varied = np.random.default_rng(0).normal(size=(6, 7, 7, 3)).astype(np.float32)
    collapsed = np.repeat(varied[:1], 6, axis=0)
    varied_out, collapsed_out = np.asarray(layer(varied)), np.asarray(layer(collapsed))
    assert varied_out.shape == (6, 7, 7, 4)
    np.testing.assert_array_equal(varied_out[..., :3], varied)
    assert collapsed_out[..., 3].max() < 1e-3 < varied_out[..., 3].min()


def test_minibatch_discrimination_flags_crowded_samples():
    from gan_tf.models.layers import MinibatchDiscrimination

    layer = MinibatchDiscrimination(num_kernels=6, kernel_dim=3)
    rng = np.random.default_rng(0)
    spread = rng.normal(size=(8, 10)).astype(np.float32) * 50
    crowded = spread.copy()
    crowded[:4] = crowded[0]  # four copies of one sample
    spread_out, crowded_out = np.asarray(layer(spread)), np.asarray(layer(crowded))
    assert spread_out.shape == (8, 16)
    np.testing.assert_array_equal(spread_out[:, :10], spread)
    assert crowded_out[:4, 10:].min() >= 3.0 - 1e-4  # each copy sees three identical neighbours
    assert spread_out[:, 10:].max() < crowded_out[:4, 10:].min()


def _largest_singular_value(kernel):
    """sigma(W) of a kernel viewed as the [-1, out] matrix spectral normalisation works on."""
    kernel = np.asarray(kernel, np.float64)
    return np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0]


def test_spectral_norm_keeps_the_largest_singular_value_near_one():
    """Miyato et al. 2018: W / sigma(W) bounds each layer's Lipschitz constant by 1. Keras's
    SpectralNormalization writes W / sigma into the wrapped layer's kernel on every training call
    (one power iteration per call), so that variable is the kernel `call` uses. The raw kernels are
    scaled up first: Glorot kernels of these tiny layers already have sigma close to 1."""
    keras.utils.set_random_seed(0)
    discriminator = build_discriminator(width=4, logits=True, spectral_norm=True)
    wrapped = [layer for layer in discriminator.layers if isinstance(layer, keras.layers.SpectralNormalization)]
    assert len(wrapped) == 4  # three downsampling convs (28 -> 14 -> 7 -> 4) and the score head
    rng = np.random.default_rng(0)
    for layer in wrapped:
        layer.layer.kernel.assign(3.0 * rng.normal(size=layer.layer.kernel.shape))
        assert _largest_singular_value(layer.layer.kernel) > 5.0
    images = rng.uniform(-1, 1, (2, 28, 28, 1)).astype(np.float32)
    for _ in range(20):
        discriminator(images, training=True)
    for layer in wrapped:
        assert abs(_largest_singular_value(layer.layer.kernel) - 1.0) < 0.05, layer.layer.name


def _layer_types(model):
    return [type(layer).__name__ for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]


@pytest.mark.parametrize("builder", [build_discriminator, build_sequential_discriminator])
def test_dropout_follows_each_downsampling_conv_and_is_active_only_in_training(builder):
    """Dropout slows D down on small data sets (DCGAN tutorials use 0.3); it must be in the model
    when asked, after every downsampling block, and change D's output only while training."""
    keras.utils.set_random_seed(0)
    discriminator = builder(width=4, dropout=0.3)
    types = _layer_types(discriminator)
    convs = [index for index, name in enumerate(types) if name == "Conv2D"]
    assert len(convs) == 3
    assert [index for index, name in enumerate(types) if name == "Dropout"] == [index + 2 for index in convs]
    assert all(types[index + 1] == "LeakyReLU" for index in convs)
    assert all(layer.rate == 0.3 for layer in discriminator.layers if isinstance(layer, keras.layers.Dropout))
    images = np.random.default_rng(0).uniform(-1, 1, (4, 28, 28, 1)).astype(np.float32)
    assert not np.allclose(np.asarray(discriminator(images, training=True)),
                           np.asarray(discriminator(images, training=True)))
    np.testing.assert_array_equal(np.asarray(discriminator(images, training=False)),
                                  np.asarray(discriminator(images, training=False)))


@pytest.mark.parametrize("builder", [build_discriminator, build_sequential_discriminator])
def test_no_dropout_when_the_rate_is_zero(builder):
    """dropout=0 leaves no Dropout layer, so D is deterministic even while training."""
    discriminator = builder(width=4, dropout=0)
    assert "Dropout" not in _layer_types(discriminator)
    images = np.random.default_rng(0).uniform(-1, 1, (4, 28, 28, 1)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(discriminator(images, training=True)),
                                  np.asarray(discriminator(images, training=True)))
