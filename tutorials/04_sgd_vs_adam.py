"""
Title: SGD against Adam on identical GANs
Author: gan-tf
Description: Two GANs with the same architecture, the same initial weights, the same data order and
the same budget; one trains with SGD (with momentum), the other with Adam. Which draws digits sooner?
Time on a laptop CPU: about 4 minutes on 2 cores (`--quick`: 17 seconds).

What you will learn:
- how to run a fair optimizer comparison (same seed, same steps, same measurement);
- to judge a GAN by a measurement of its samples (classifier Frechet distance), not by its losses;
- why adaptive optimizers became the default for GANs, and that a single run is only one run.
"""

import os

import _prologue
import keras
import numpy as np
from matplotlib import pyplot as plt

from gan_tf import classifier, data, metrics
from gan_tf import images as pixels
from gan_tf.gan import GAN
from gan_tf.models import build_discriminator, build_generator

options = _prologue.parse(__doc__)
epochs = 2 if options.quick else 12  # use ~40 to see where both end up
images_used = 1000 if options.quick else 5000
latent_dim = 64

## One data set, one judge
image_set = data.load("mnist-5k")
image_set = data.ImageSet(image_set.images[np.random.default_rng(0).permutation(5000)[:images_used]],
                          None, "mnist-5k")
judge = classifier.load_classifier()
real_features, _ = classifier.features_and_probabilities(judge, pixels.model_to_unit(pixels.bytes_to_model(
    data.load("mnist-5k").images)))
noise = np.random.default_rng(1).standard_normal((500, latent_dim)).astype(np.float32)


def frechet_distance_of(gan):
    samples = pixels.model_to_unit(np.asarray(gan.build_sampling_generator()(noise, training=False)))
    features, _ = classifier.features_and_probabilities(judge, samples)
    return metrics.frechet_distance(real_features, features)


## Two identical GANs, two optimizers
# Same seed -> same initial weights; same data seed -> same batches in the same order.
def run(make_optimizer):
    keras.utils.set_random_seed(0)
    gan = GAN(build_generator(latent_dim), build_discriminator(logits=True, dropout=0.0, minibatch_std=True),
              ema_decay=0.999, seed=0)
    gan.compile(make_optimizer(), make_optimizer())
    curve = {"d_loss": [], "g_loss": [], "fd": []}
    for epoch in range(epochs):
        logs = gan.fit(data.to_dataset(image_set, 32, seed=epoch), epochs=1, verbose=0, shuffle=False).history
        curve["d_loss"].append(logs["d_loss"][0])
        curve["g_loss"].append(logs["g_loss"][0])
        curve["fd"].append(frechet_distance_of(gan))
        print(f"  epoch {epoch + 1}: d_loss {curve['d_loss'][-1]:.3f}, g_loss {curve['g_loss'][-1]:.3f}, "
              f"classifier FD {curve['fd'][-1]:.1f}")
    samples = np.asarray(gan.build_sampling_generator()(noise[:36], training=False))
    return curve, samples


optimizers = {
    "SGD (lr 0.01, momentum 0.5)": lambda: keras.optimizers.SGD(0.01, momentum=0.5),
    "Adam (lr 5e-4, beta_1 0.5)": lambda: keras.optimizers.Adam(5e-4, beta_1=0.5),
}
results = {}
for name, make_optimizer in optimizers.items():
    print(name)
    results[name] = run(make_optimizer)

## One figure with everything
figure, axes = plt.subplots(1, 4, figsize=(18, 4))
for name, (curve, samples) in results.items():
    steps = np.arange(1, epochs + 1)
    axes[0].plot(steps, curve["d_loss"], marker="o", label=name)
    axes[1].plot(steps, curve["g_loss"], marker="o", label=name)
    axes[2].plot(steps, curve["fd"], marker="o", label=name)
for axis, title in zip(axes[:3], ["D loss", "G loss", "classifier FD (lower is better)"]):
    axis.set_title(title)
    axis.set_xlabel("epoch")
    axis.legend(fontsize=7)
axes[2].set_yscale("log")
both = np.concatenate([pixels.grid(samples, 6) for _, samples in results.values()], axis=1)
axes[3].imshow(pixels.model_to_bytes(both)[..., 0], cmap="gray")
axes[3].set_title("left: SGD, right: Adam")
axes[3].axis("off")
figure.tight_layout()
figure.savefig(os.path.join(options.out, "sgd_vs_adam.png"), dpi=80)
plt.close(figure)

## The conclusion, from the numbers of this run
(sgd_name, (sgd, _)), (adam_name, (adam, _)) = results.items()
print(f"final classifier FD: SGD {sgd['fd'][-1]:.1f}, Adam {adam['fd'][-1]:.1f} "
      f"(after {epochs} epochs of {images_used} images)")
if adam["fd"][-1] < sgd["fd"][-1]:
    print(f"Adam won this run by a factor of {sgd['fd'][-1] / adam['fd'][-1]:.1f} in FD.")
else:
    print("SGD won (or tied) this run: Adam did not win here. One run is one sample; try other seeds.")
print(f"figure: {os.path.join(options.out, 'sgd_vs_adam.png')}")
