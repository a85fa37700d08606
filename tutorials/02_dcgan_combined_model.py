"""
Title: DCGAN the classic way: a combined model with a frozen discriminator
Author: gan-tf
Description: Sequential builders, `discriminator.trainable = False`, the `train_on_batch` loop, and
the Keras 3 pitfall that silently stops the discriminator from learning.
Time on a laptop CPU: about 1.5 minutes on 2 cores (`--quick`: 16 seconds).

What you will learn:
- how the combined model `D(G(z))` trains G "through" a frozen D;
- why, in Keras 3, the textbook order freezes D for good, and how to see it;
- the fix: set `trainable` right before each model's first train call.
"""

import os

import _prologue
import keras
import numpy as np

from gan_tf import data
from gan_tf import images as pixels
from gan_tf.combined import CombinedGAN
from gan_tf.models import build_sequential_discriminator, build_sequential_generator

options = _prologue.parse(__doc__)
epochs = 1 if options.quick else 8  # use ~40 for clean digits (or `gan-tf train --style combined`)
latent_dim = 64

## The models, as Sequential stacks
# G: Dense -> BatchNorm -> Reshape 7x7 -> Conv2DTranspose to 14x14 and 28x28 -> Conv2D + tanh.
# D: Conv2D(stride 2) -> LeakyReLU -> Dropout, three times -> Flatten -> Dense(1) + sigmoid.
keras.utils.set_random_seed(0)
generator = build_sequential_generator(latent_dim)
discriminator = build_sequential_discriminator(dropout=0.3)
generator.summary()
discriminator.summary()

## The pitfall, shown on a throw-away copy
# The textbook order: compile D, set D.trainable = False, build and compile the combined model, then
# train. In Keras 3 a model collects its trainable weights when its train function is first traced,
# i.e. at its first train_on_batch, and D's first call comes after the flag was set.
textbook_d = build_sequential_discriminator()
textbook_g = build_sequential_generator(latent_dim)
textbook_d.compile(optimizer="adam", loss="binary_crossentropy")
textbook_d.trainable = False
z = keras.Input((latent_dim,))
textbook_gan = keras.Model(z, textbook_d(textbook_g(z)))
textbook_gan.compile(optimizer="adam", loss="binary_crossentropy")
before = [keras.ops.convert_to_numpy(weight) for weight in textbook_d.weights]
real_batch = pixels.bytes_to_model(data.load("mnist-5k").images[:32])
textbook_d.train_on_batch(real_batch, np.ones((32, 1)))  # Keras warns: no trainable weights
changed = any(not np.array_equal(old, keras.ops.convert_to_numpy(new)) for old, new in zip(before, textbook_d.weights))
print(f"textbook order: did D's weights change on its own train step? {changed}")

## The fix, inside CombinedGAN.train_step
# `discriminator.trainable = True` right before D's train call, `False` right before the combined
# model's. Each model then traces its train function with the weights it should update.
trainer = CombinedGAN(generator, discriminator, keras.optimizers.Adam(2e-4, beta_1=0.5),
                      keras.optimizers.Adam(2e-4, beta_1=0.5), seed=0)
image_set = data.load("mnist-5k")
dataset = data.to_dataset(image_set, batch_size=32, seed=0)
before = [keras.ops.convert_to_numpy(weight) for weight in discriminator.weights]
history = []


class Recorder(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        history.append(logs)
        print(f"epoch {epoch + 1}: d_loss {logs['d_loss']:.3f}, g_loss {logs['g_loss']:.3f}, "
              f"D(x) {logs['real_score']:.2f}, D(G(z)) {logs['fake_score']:.2f}")
        samples = np.asarray(generator(fixed_noise, training=False))
        pixels.save_png(pixels.model_to_bytes(pixels.grid(samples, 8)),
                        os.path.join(options.out, f"epoch_{epoch + 1:02d}.png"), scale=2)


fixed_noise = np.random.default_rng(0).standard_normal((64, latent_dim)).astype(np.float32)
trainer.fit(dataset, epochs=epochs, callbacks=[Recorder()])
changed = any(not np.array_equal(old, keras.ops.convert_to_numpy(new))
              for old, new in zip(before, discriminator.weights))
print(f"with the fix: did D's weights change during training? {changed}")
print(f"sample grids in {options.out}")
