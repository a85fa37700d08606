"""gan-tf: Generative Adversarial Networks with Keras 3 and TensorFlow, in two training styles.

Importing the package is cheap: TensorFlow loads only when a submodule that needs it is imported.
"""

__version__ = "0.1.0"

__all__ = [
    "CombinedGAN",
    "Conditioning",
    "GAN",
    "TrainConfig",
    "UserError",
    "build_discriminator",
    "build_generator",
    "build_sequential_discriminator",
    "build_sequential_generator",
    "train",
]

_LAZY = {
    "CombinedGAN": "gan_tf.combined",
    "Conditioning": "gan_tf.conditioning",
    "GAN": "gan_tf.gan",
    "TrainConfig": "gan_tf.config",
    "UserError": "gan_tf.errors",
    "build_discriminator": "gan_tf.models",
    "build_generator": "gan_tf.models",
    "build_sequential_discriminator": "gan_tf.models",
    "build_sequential_generator": "gan_tf.models",
    "train": "gan_tf.train",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'gan_tf' has no attribute {name!r}")
