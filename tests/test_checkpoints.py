"""Checkpoints restore every variable by name, or refuse with one line: never a silent or partial restore."""

import types

import keras
import numpy as np
import pytest

from gan_tf import checkpoints
from gan_tf.errors import UserError


def _model(order, width=3, name="generator"):
    """z -> first(z) + second(z): two same-shaped Dense layers, created and called in `order`, so the
    model's weight list (what a positional checkpoint relied on) follows `order` too."""
    z = keras.Input((width,), name="z")
    branches = [keras.layers.Dense(width, name=layer_name)(z) for layer_name in order]
    return keras.Model(z, keras.layers.Add(name="sum")(branches), name=name)


def _trainer(order, width=3):
    generator, discriminator = _model(order, width), _model(order, width, "discriminator")
    g_optimizer, d_optimizer = keras.optimizers.Adam(), keras.optimizers.Adam()
    g_optimizer.build(generator.trainable_variables)
    d_optimizer.build(discriminator.trainable_variables)
    return types.SimpleNamespace(generator=generator, discriminator=discriminator, g_optimizer=g_optimizer,
                                 d_optimizer=d_optimizer, ema=None)


def _fill(trainer, seed):
    rng = np.random.default_rng(seed)
    for model in (trainer.generator, trainer.discriminator):
        for weight in model.weights:
            weight.assign(rng.normal(size=weight.shape).astype(np.float32))
    for optimizer in (trainer.g_optimizer, trainer.d_optimizer):
        for variable in optimizer.variables[2:]:  # moments; iteration and learning rate stay
            variable.assign(rng.normal(size=variable.shape).astype(np.float32))
        optimizer.iterations.assign(7)


def _by_path(model):
    return {weight.path: np.asarray(weight) for weight in model.weights}


def test_variables_created_in_another_order_restore_by_name(tmp_path):
    saved = _trainer(["first", "second"])
    _fill(saved, seed=0)
    checkpoints.save(saved, str(tmp_path), epoch=1)
    restored = _trainer(["second", "first"])  # same names, same shapes, opposite creation order
    assert [w.path for w in restored.generator.weights] != [w.path for w in saved.generator.weights]
    state = checkpoints.restore(restored, checkpoints.latest(str(tmp_path)))
    assert state["epoch"] == 1
    for model in ("generator", "discriminator"):
        expected, actual = _by_path(getattr(saved, model)), _by_path(getattr(restored, model))
        assert expected.keys() == actual.keys()
        for path in expected:
            np.testing.assert_array_equal(actual[path], expected[path], err_msg=path)
    moments = {v.path.split("/", 1)[1]: np.asarray(v) for v in saved.g_optimizer.variables}
    for variable in restored.g_optimizer.variables:
        np.testing.assert_array_equal(np.asarray(variable), moments[variable.path.split("/", 1)[1]])
    assert int(restored.g_optimizer.iterations) == 7


def test_a_checkpoint_of_other_models_fails_with_one_line_naming_the_variable_and_assigns_nothing(tmp_path):
    saved = _trainer(["first", "second"])
    _fill(saved, seed=0)
    path = checkpoints.save(saved, str(tmp_path), epoch=1)
    wider = _trainer(["first", "second"], width=4)
    before = _by_path(wider.generator)
    with pytest.raises(UserError) as error:
        checkpoints.restore(wider, path)
    message = str(error.value)
    assert "\n" not in message and "generator/first/kernel" in message and "[3, 3]" in message
    for key, value in _by_path(wider.generator).items():
        np.testing.assert_array_equal(value, before[key])  # nothing was assigned
    # Only D differs: G and its optimizer, which match and come first, must not be restored either.
    other_d = _trainer(["first", "second"])
    other_d.discriminator = _model(["first", "second"], width=4, name="discriminator")
    other_d.d_optimizer = keras.optimizers.Adam()
    other_d.d_optimizer.build(other_d.discriminator.trainable_variables)
    g_before, steps_before = _by_path(other_d.generator), int(other_d.g_optimizer.iterations)
    with pytest.raises(UserError, match="discriminator/first/kernel"):
        checkpoints.restore(other_d, path)
    for key, value in _by_path(other_d.generator).items():
        np.testing.assert_array_equal(value, g_before[key])
    assert int(other_d.g_optimizer.iterations) == steps_before == 0


def _with_one_dense_layer(player, layer_name):
    """A trainer whose `player` ("generator" or "discriminator") is z -> Dense(layer_name)(z)."""
    trainer = _trainer(["first", "second"])
    z = keras.Input((3,), name="z")
    model = keras.Model(z, keras.layers.Dense(3, name=layer_name)(z), name=player)
    optimizer = keras.optimizers.Adam()
    optimizer.build(model.trainable_variables)
    setattr(trainer, player, model)
    setattr(trainer, "g_optimizer" if player == "generator" else "d_optimizer", optimizer)
    return trainer


def test_missing_and_extra_variables_are_named(tmp_path):
    path = checkpoints.save(_trainer(["first", "second"]), str(tmp_path), epoch=1)
    with pytest.raises(UserError, match="has no generator/only/kernel"):
        checkpoints.restore(_with_one_dense_layer("generator", "only"), path)
    with pytest.raises(UserError, match="it has d_optimizer/second_bias_momentum, which they lack"):
        checkpoints.restore(_with_one_dense_layer("discriminator", "first"), path)


def test_a_checkpoint_in_the_old_positional_format_is_refused(tmp_path):
    old = tmp_path / "checkpoints" / "epoch-0001.npz"
    old.parent.mkdir()
    np.savez(old, **{"generator/0": np.zeros((3, 3)), "state": np.array('{"epoch": 1}')})
    with pytest.raises(UserError, match="older gan-tf.*by position"):
        checkpoints.restore(_trainer(["first", "second"]), str(old))
