"""Image-to-image models (U-Net, ResNet, upscaling generators, PatchGAN) and the reconstruction losses."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_tf import losses
from gan_tf.errors import UserError
from gan_tf.models import (
    build_patch_discriminator,
    build_resnet_generator,
    build_unet_generator,
    build_upscaling_generator,
)
from gan_tf.models.translation import leaky_relu, patch_receptive_field


def _images(*shape, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)


# (builder, input shape without the batch, output shape without the batch), at tiny sizes.
GENERATORS = [
    pytest.param(lambda: build_unet_generator(16, 1, 3, width=8), (16, 16, 1), (16, 16, 3), id="unet-instance"),
    pytest.param(lambda: build_unet_generator(16, 3, 1, width=8, depth=2, norm="batch"), (16, 16, 3), (16, 16, 1),
                 id="unet-batch-depth2"),
    pytest.param(lambda: build_resnet_generator(16, 1, 3, width=8, residual_blocks=2), (16, 16, 1), (16, 16, 3),
                 id="resnet"),
    pytest.param(lambda: build_resnet_generator(28, 1, 1, width=4, residual_blocks=1, norm="none"), (28, 28, 1),
                 (28, 28, 1), id="resnet-28"),
    pytest.param(lambda: build_upscaling_generator(7, 4, 1, 1, width=8, residual_blocks=2), (7, 7, 1), (28, 28, 1),
                 id="upscaling"),
]


@pytest.mark.parametrize("builder, input_shape, output_shape", GENERATORS)
def test_generators_give_the_promised_shapes_in_tanh_range(builder, input_shape, output_shape):
    generator = builder()
    assert generator.inputs[0].name == "image"
    images = np.asarray(generator(_images(2, *input_shape)))
    assert images.shape == (2, *output_shape)
    assert np.all(np.abs(images) <= 1.0) and images.std() > 0


@pytest.mark.parametrize("builder, input_shape, output_shape", GENERATORS[::2])
def test_generators_reload_from_keras_files_with_the_same_outputs(tmp_path, builder, input_shape, output_shape):
    generator = builder()
    images = _images(2, *input_shape)
    path = str(tmp_path / "generator.keras")
    generator.save(path)
    reloaded = keras.models.load_model(path)
    assert reloaded.name == generator.name
    np.testing.assert_allclose(np.asarray(reloaded(images)), np.asarray(generator(images)), atol=1e-6)


def test_the_upscaler_learns_detail_on_top_of_bicubic():
    generator = build_upscaling_generator(4, 4, 3, 3, width=4, residual_blocks=1)
    images = _images(2, 4, 4, 3)  # an untrained G adds no detail: bicubic alone
    bicubic = np.clip(tf.image.resize(images, (16, 16), method="bicubic").numpy(), -1, 1)
    np.testing.assert_allclose(np.asarray(generator(images)), bicubic, atol=1e-5)
    assert "bicubic" not in [layer.name for layer in build_upscaling_generator(4, 4, 1, 3, width=4).layers]


def test_unet_default_depth_reaches_a_2x2_bottleneck_with_skips_at_every_level():
    generator = build_unet_generator(32, 1, 1, width=4, dropout=0.5)
    assert generator.get_layer("down4_act").output.shape[1:3] == (2, 2)
    assert [layer.name for layer in generator.layers if layer.name.endswith("_skip")] == [
        "up3_skip", "up2_skip", "up1_skip"]
    assert [layer.name for layer in generator.layers if layer.name.endswith("_dropout")] == [
        "up3_dropout", "up2_dropout"]  # the innermost half of the decoder
    widths = [generator.get_layer(f"down{level}_conv").filters for level in range(1, 5)]
    assert widths == [4, 8, 16, 32]
    assert build_unet_generator(256, 1, 1, width=1, depth=6).get_layer("down6_conv").filters == 8  # capped


def test_leaky_relu_has_pix2pix_slope():
    np.testing.assert_allclose(np.asarray(leaky_relu(np.array([-1.0, 0.0, 2.0], np.float32))), [-0.2, 0.0, 2.0])


@pytest.mark.parametrize("size, depth", [(28, None), (28, 3), (16, 5), (16, 0)])
def test_unet_refuses_sizes_it_cannot_halve_with_a_fix(size, depth):
    with pytest.raises(UserError, match="pad the images"):
        build_unet_generator(size, depth=depth, width=4)


def test_unet_on_28_works_with_a_depth_that_divides_it():
    generator = build_unet_generator(28, 1, 1, width=4, depth=2)
    assert generator(_images(1, 28, 28, 1)).shape == (1, 28, 28, 1)


@pytest.mark.parametrize("call", [
    lambda: build_unet_generator(16, norm="layer"),
    lambda: build_resnet_generator(16, norm="group"),
    lambda: build_resnet_generator(20, downsamplings=3),
    lambda: build_upscaling_generator(7, factor=3),
    lambda: build_upscaling_generator(7, in_channels=1, out_channels=3, bicubic_skip=True),
    lambda: build_patch_discriminator(16, norm="weight"),
    lambda: build_patch_discriminator(16, layers=0),
])
def test_bad_arguments_are_user_errors(call):
    with pytest.raises(UserError):
        call()


def test_patch_logits_work_with_every_adversarial_loss():
    discriminator = build_patch_discriminator(16, 3, width=8, layers=2)
    assert discriminator.inputs[0].name == "image"
    real_logits = np.asarray(discriminator(_images(2, 16, 16, 3, seed=1)))
    fake_logits = np.asarray(discriminator(_images(2, 16, 16, 3, seed=2)))
    assert real_logits.shape == (2, 4, 4, 1)  # one logit per patch, no activation
    assert real_logits.min() < 0 < real_logits.max()
    softplus = lambda x: np.logaddexp(0.0, x)  # noqa: E731
    np.testing.assert_allclose(np.asarray(losses.non_saturating_generator_loss(fake_logits)),
                               softplus(-fake_logits).mean(axis=(1, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(losses.non_saturating_discriminator_loss(real_logits, fake_logits)),
                               (softplus(-real_logits) + softplus(fake_logits)).mean(axis=(1, 2, 3)), rtol=1e-5)
    for generator_loss, discriminator_loss in losses.LOSSES.values():
        assert np.asarray(generator_loss(fake_logits)).shape == (2,)
        assert np.asarray(discriminator_loss(real_logits, fake_logits)).shape == (2,)


def test_conditional_patch_discriminator_judges_image_and_condition_together(tmp_path):
    discriminator = build_patch_discriminator(16, channels=3, condition_channels=1, width=8, layers=2,
                                              norm="batch")
    assert [tensor.name for tensor in discriminator.inputs] == ["image", "condition"]
    image, condition = _images(2, 16, 16, 3), _images(2, 16, 16, 1, seed=1)
    logits = np.asarray(discriminator({"image": image, "condition": condition}))
    assert logits.shape == (2, 4, 4, 1)
    other = np.asarray(discriminator({"image": image, "condition": _images(2, 16, 16, 1, seed=2)}))
    assert not np.allclose(logits, other)  # the condition reaches the logits
    path = str(tmp_path / "discriminator.keras")
    discriminator.save(path)
    reloaded = keras.models.load_model(path)
    np.testing.assert_allclose(np.asarray(reloaded([image, condition])), logits, atol=1e-6)


@pytest.mark.parametrize("layers", [1, 2])
def test_each_patch_logit_sees_only_its_receptive_field(layers):
    discriminator = build_patch_discriminator(64, 1, width=2, layers=layers, norm="none")
    images = tf.constant(_images(1, 64, 64, 1))
    with tf.GradientTape() as tape:
        tape.watch(images)
        logits = discriminator(images)
        centre = logits.shape[1] // 2
        logit = logits[0, centre, centre, 0]
    rows = np.nonzero(np.abs(np.asarray(tape.gradient(logit, images))[0, :, :, 0]).sum(axis=1))[0]
    assert 0 < rows.max() - rows.min() + 1 <= patch_receptive_field(layers) < 64
    assert patch_receptive_field(3) == 70  # the paper's 70x70 PatchGAN


def test_reconstruction_losses_match_hand_computed_values():
    target = np.array([[[[0.0], [1.0]], [[-1.0], [0.5]]], [[[1.0], [1.0]], [[1.0], [1.0]]]], np.float32)
    output = np.array([[[[0.5], [1.0]], [[1.0], [0.5]]], [[[-1.0], [1.0]], [[1.0], [0.0]]]], np.float32)
    expected = [(0.5 + 0.0 + 2.0 + 0.0) / 4, (2.0 + 0.0 + 0.0 + 1.0) / 4]  # per example, over its pixels
    for loss in (losses.l1_loss, losses.cycle_consistency_loss, losses.identity_loss):
        np.testing.assert_allclose(np.asarray(loss(target, output)), expected, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(losses.l1_loss(target, target)), [0.0, 0.0])


def test_l1_refuses_shapes_that_would_broadcast():
    with pytest.raises(ValueError, match="differs"):
        losses.l1_loss(np.zeros((2, 4, 4, 1), np.float32), np.zeros((2, 4, 4, 3), np.float32))


def test_a_few_steps_on_l1_fit_a_unet_to_a_fixed_batch():
    keras.utils.set_random_seed(0)
    generator = build_unet_generator(16, 1, 3, width=8, dropout=0.0)
    inputs = _images(4, 16, 16, 1)
    targets = np.concatenate([inputs, -inputs, inputs[:, ::-1]], axis=-1)  # a fixed mapping to learn
    optimizer = keras.optimizers.Adam(2e-3)

    def loss_value():
        return float(np.mean(np.asarray(losses.l1_loss(targets, generator(inputs)))))

    before = loss_value()
    for _ in range(5):
        with tf.GradientTape() as tape:
            loss = keras.ops.mean(losses.l1_loss(targets, generator(inputs, training=True)))
        gradients = tape.gradient(loss, generator.trainable_variables)
        assert all(gradient is not None for gradient in gradients)
        optimizer.apply_gradients(zip(gradients, generator.trainable_variables))
    assert loss_value() < 0.9 * before, (before, loss_value())
