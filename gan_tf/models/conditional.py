"""Builders for generators and discriminators that take more than noise: class labels or InfoGAN codes.

Conditional GAN (Mirza and Osindero 2014): G gets `label` as a learned embedding concatenated to z; D
gets it through a projection (Miyato and Koyama 2018). InfoGAN (Chen et al. 2016): G gets a
categorical `code` and `continuous` codes beside z; D gets a second head, Q, on its shared body that
tries to read the codes back from the image. The image-side blocks are the DCGAN ones from
`gan_tf.models.dcgan`, so a conditional model differs from the plain one only where the condition
enters. Input names (`z`, `label`, `code`, `continuous`) are the serving signature's keys.
"""

import keras
from keras import layers

from gan_tf.models.dcgan import discriminator_layers, generator_layers
from gan_tf.models.layers import ClassProjection


def _label_input(name):
    return keras.Input((), dtype="int32", name=name)


def _apply(outputs, stack):
    for layer in stack:
        outputs = layer(outputs)
    return outputs


def _generator_from(inputs, pieces, latent_dim, image_size, channels, width, batch_norm):
    joined = layers.Concatenate(name="z_and_condition")(pieces)
    images = _apply(joined, generator_layers(latent_dim, image_size, channels, width, batch_norm))
    return keras.Model(inputs, images, name="generator")


def build_conditional_generator(num_classes, latent_dim=64, image_size=28, channels=1, width=32,
                                batch_norm=True, embedding_dim=16):
    """[z [batch, latent_dim], label int [batch]] -> images in [-1, 1]."""
    z, label = keras.Input((latent_dim,), name="z"), _label_input("label")
    embedded = layers.Embedding(num_classes, embedding_dim, name="label_embedding")(label)
    return _generator_from([z, label], [z, embedded], latent_dim, image_size, channels, width, batch_norm)


def build_conditional_discriminator(num_classes, image_size=28, channels=1, width=64, dropout=0.0,
                                    spectral_norm=False, augment="", seed=None, minibatch_std=False,
                                    minibatch_kernels=0):
    """[images, label int [batch]] -> logit: D's unconditional score plus the class projection."""
    images, label = keras.Input((image_size, image_size, channels), name="images"), _label_input("label")
    stack = discriminator_layers(image_size, channels, width, dropout, True, spectral_norm, augment, seed,
                                 minibatch_std, minibatch_kernels)
    features = _apply(images, stack[:-1])
    score = stack[-1](features)
    projection = ClassProjection(num_classes, name="class_projection")([features, label])
    logit = layers.Add(name="score_given_label")([score, projection])
    return keras.Model([images, label], logit, name="discriminator")


def build_info_generator(categories, continuous, latent_dim=64, image_size=28, channels=1, width=32,
                         batch_norm=True):
    """[z, code int [batch] (if categories), continuous [batch, n] (if n)] -> images in [-1, 1].

    The categorical code enters one-hot, as in the paper: an Embedding initialised to the identity and
    frozen, so G cannot blur the categories together before its first layer.
    """
    z = keras.Input((latent_dim,), name="z")
    inputs, pieces = [z], [z]
    if categories:
        code = _label_input("code")
        one_hot = layers.Embedding(categories, categories, embeddings_initializer="identity",
                                   trainable=False, name="code_one_hot")(code)
        inputs.append(code)
        pieces.append(one_hot)
    if continuous:
        values = keras.Input((continuous,), name="continuous")
        inputs.append(values)
        pieces.append(values)
    return _generator_from(inputs, pieces, latent_dim, image_size, channels, width, batch_norm)


def build_info_discriminator(categories, continuous, image_size=28, channels=1, width=64, dropout=0.0,
                             spectral_norm=False, augment="", seed=None, minibatch_std=False,
                             minibatch_kernels=0, q_width=128):
    """images -> [logit [batch, 1], q [batch, categories + continuous]]: D and the Q head on one body.

    q holds the categorical code's logits, then the continuous codes' predicted means.
    """
    images = keras.Input((image_size, image_size, channels), name="images")
    stack = discriminator_layers(image_size, channels, width, dropout, True, spectral_norm, augment, seed,
                                 minibatch_std, minibatch_kernels)
    features = _apply(images, stack[:-1])
    score = stack[-1](features)
    hidden = layers.LeakyReLU(0.2, name="q_act")(layers.Dense(q_width, name="q_hidden")(features))
    q = layers.Dense(categories + continuous, name="q_codes")(hidden)
    return keras.Model(images, [score, q], name="discriminator")
