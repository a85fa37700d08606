"""The run configuration: one frozen dataclass whose fields are also the CLI's flags.

Every field carries a one-line help text that says why its default is what it is; `gan_tf.cli`
generates `--flag`s and `--help` from them, and the final config is written as `config.json` beside
every checkpoint and export. Imports no other gan_tf module but `errors`.
"""

import dataclasses
import json
from dataclasses import dataclass, field

from gan_tf.errors import UserError

STYLES = ("fit", "combined")
OPTIMIZERS = ("adam", "sgd", "rmsprop")
XLA_MODES = ("auto", "on", "off")
LOSS_NAMES = ("non-saturating", "minimax", "least-squares", "wasserstein", "hinge")
STRATEGIES = ("default", "mirrored", "multi-worker")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")  # Keras dtype policies
ARCHITECTURES = ("dcgan", "progan", "stylegan")
RESAMPLE_MODES = ("nearest", "bilinear")  # gan_tf.models.style.RESAMPLE_MODES
STYLE_MODULATIONS = ("adain", "demodulation")  # gan_tf.models.style.STYLE_MODES
PRESET_NAMES = ("dcgan", "cgan", "wgan", "wgan-gp", "lsgan", "hinge-sn", "infogan", "progan", "stylegan")
# Presets of the DCGAN architecture: a five-epoch comparison ranks them fairly. progan and stylegan grow
# through their first 28,000 images (bench/stylegan_ablation.py compares them on their own budget).
DCGAN_PRESETS = tuple(name for name in PRESET_NAMES if name not in ("progan", "stylegan"))


def _option(default, help, choices=None):
    return field(default=default, metadata={"help": help, "choices": choices})


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on. Defaults draw recognisable digits in minutes on a CPU."""

    # Data
    dataset: str = _option("mnist-5k", "mnist-5k (offline, 5,000 digits), mnist-m-5k (offline, the same "
                           "digits on colour photographs), mnist, fashion_mnist, cifar10, or a path to an "
                           "image folder (class sub-folders give labels) or .npz/.npy file")
    image_size: int | None = _option(None, "side of the square images: 28, 32 or 64 "
                                     "(default: the data set's own; folders 64)")
    channels: int | None = _option(None, "1 (grayscale) or 3 (RGB) (default: the data set's own; folders 3)")
    # Schedule
    epochs: int = _option(35, "passes over the data; 35 x 5,000 digits reach issue 16's stricter digit bar "
                          "(30 fell short on confidence; the README gives the measured times)")
    batch_size: int = _option(32, "images per step; 32 gives twice the updates of 64 in the same time, "
                              "and on 5k images the number of updates is what counts")
    # Models
    architecture: str = _option("dcgan", "dcgan (Dense -> Conv2DTranspose G, Conv2D D), progan (progressive "
                                "growing, Karras et al. 2018) or stylegan (style-based G, Karras et al. 2019); "
                                "the last two draw 32x32 (digits padded) or 64x64 images", ARCHITECTURES)
    latent_dim: int = _option(64, "width of the noise vector z; 64 is plenty for digits")
    generator_width: int = _option(32, "channels of G's last upsampling block, doubling towards z "
                                   "(progan/stylegan: at full size, doubling per level up to 8x)")
    discriminator_width: int = _option(32, "channels of D's first conv block, doubling each block "
                                       "(progan/stylegan: at full size, doubling per level up to 8x); 32 "
                                       "halves the step's FLOPs of 64, and with R1 D is strong enough")
    batch_norm: bool = _option(True, "BatchNorm in G (dcgan only; progan and stylegan use pixel norm or "
                               "styles): without it the small MNIST DCGAN collapses")
    dropout: float = _option(0.0, "Dropout after each D block (DCGAN tutorials use 0.3); off: within "
                             "minutes of training D's signal to G matters more than regularising D")
    minibatch_std: bool = _option(True, "append the batch's standard deviation as a feature map in D "
                                  "(Karras et al. 2018): keeps all ten digits in play")
    spectral_norm: bool = _option(False, "spectral normalisation of D's weights (Miyato et al. 2018), "
                                  "Keras' own SpectralNormalization: a 1-Lipschitz D without a penalty")
    minibatch_kernels: int = _option(32, "mini-batch discrimination kernels in D (Salimans et al. 2016): "
                                     "D sees which samples are over-produced, which evens out the ten "
                                     "digits' shares; 0 is off")
    # Progressive and style-based models
    growth_images: int = _option(4000, "progan/stylegan: images shown per fade-in of a new level and per "
                                 "stable phase after it (ProGAN's schedule); 0 trains all levels from the "
                                 "start")
    resample: str = _option("bilinear", "progan/stylegan: up/downsampling inside the blocks: nearest "
                            "(ProGAN) or bilinear (StyleGAN's tuning, less aliasing)", RESAMPLE_MODES)
    mapping_layers: int = _option(8, "stylegan: depth of the mapping network z -> w (the paper's 8)")
    style_modulation: str = _option("adain", "stylegan: how styles enter: adain (StyleGAN) or demodulation "
                                    "(StyleGAN2's weight demodulation, no droplet artefacts)",
                                    STYLE_MODULATIONS)
    constant_input: bool = _option(True, "stylegan: start from a learned 4x4 constant (the paper's config "
                                   "D); off feeds w through a dense layer, the traditional input")
    noise_inputs: bool = _option(True, "stylegan: per-pixel noise with learned per-channel scales in every "
                                 "layer (config E), the source of stochastic detail")
    style_mixing: float = _option(0.0, "stylegan: probability that a training draw mixes two latents at a "
                                  "random layer (config F; the paper's 0.9); 0 is off")
    # Conditioning
    conditional: bool = _option(False, "conditional GAN (Mirza and Osindero 2014): G and D take the class "
                                "label, so you can ask for a digit; needs a labelled data set")
    info_categories: int = _option(0, "InfoGAN (Chen et al. 2016): a categorical code with this many "
                                   "values that G must make recoverable from its images (10 for "
                                   "digits); 0 is off")
    info_continuous: int = _option(0, "InfoGAN: number of continuous codes, uniform in [-1, 1] "
                                   "(2 in the paper, often width and slant)")
    info_weight: float = _option(1.0, "InfoGAN's lambda: weight of the mutual-information term")
    # Training
    style: str = _option("fit", "fit: GAN model with a custom train_step; combined: the classic "
                         "D.trainable=False model and train_on_batch", STYLES)
    loss: str = _option("non-saturating", "non-saturating (-log D(G(z))), minimax (log(1-D(G(z)))), "
                        "least-squares, wasserstein or hinge (the last three: fit style only)", LOSS_NAMES)
    gradient_penalty_weight: float = _option(0.0, "WGAN-GP's lambda (10 in the paper); 0 is off")
    r1_weight: float = _option(1.0, "R1 penalty's gamma on real images (Mescheder et al. 2018); 0 is off; "
                               "the default's biggest gain: its FD monitor read 14.3 after 22 epochs, 36.2 "
                               "without (README)")
    r1_interval: int = _option(16, "lazy R1 (StyleGAN2): apply R1 on every this many updates of D, times this "
                               "many; R1 on every step costs the stylegan preset a third of its speed")
    clip_value: float = _option(0.0, "WGAN weight clipping of D to [-c, c] (0.01 in the paper); 0 is off")
    optimizer: str = _option("adam", "adam, sgd or rmsprop, used for both G and D", OPTIMIZERS)
    g_learning_rate: float = _option(1e-3, "G's learning rate; DCGAN's 2e-4 is too slow for a "
                                     "minutes-long budget, and the EMA of G smooths out the noise of 1e-3 "
                                     "(35 epochs at 1e-3 ended as well as 40 at 5e-4: README)")
    d_learning_rate: float = _option(1e-3, "D's learning rate, equal to G's: balanced players")
    beta1: float = _option(0.5, "Adam's beta_1 (SGD's momentum; RMSprop ignores it); 0.5 (DCGAN) damps the "
                           "oscillation 0.9 causes")
    beta2: float = _option(0.999, "Adam's beta_2 (others ignore it); ProGAN and StyleGAN use 0.99")
    d_steps: int = _option(1, "D updates per G update (k in Goodfellow et al. 2014)")
    reuse_fakes: bool = _option(True, "G's update scores the images G drew for D's last update, under D's new "
                                "weights (as PyTorch's DCGAN example does): one forward pass of G fewer, "
                                "1.17x the images/s at the same quality (README); --no-reuse-fakes draws "
                                "fresh noise for G (Goodfellow et al.'s Algorithm 1)")
    label_smoothing: float = _option(0.0, "one-sided label smoothing (Salimans et al. 2016): D's real "
                                     "target is 1 - this; R1 keeps D from winning outright instead (without "
                                     "R1, 0.1: an unsmoothed D with minibatch discrimination wins and G's "
                                     "digits turn noisy)")
    augment: str = _option("", "DiffAugment policy on real and fake images seen by D (translation, "
                           "cutout, color, comma-separated): for small sets where D memorises; on "
                           "mnist-5k within minutes it slows learning more than it helps")
    ema_decay: float = _option(0.999, "average of G's weights used for samples (warming up from fast to "
                               "a horizon of ~1,000 steps); 0 turns it off")
    seed: int = _option(42, "seed of weights, noise, shuffling and augmentation")
    xla: str = _option("auto", "compile the train step with XLA: auto (on where a GPU is present), "
                       "on or off (XLA is slower on CPUs)", XLA_MODES)
    precision: str = _option("float32", "float32, mixed_float16 (NVIDIA GPUs with tensor cores; each of G's and "
                             "D's optimizers scales its loss) or mixed_bfloat16 (TPUs, Ampere+ GPUs, recent "
                             "CPUs): layers compute in 16 bits while weights, D's logits, the losses and the "
                             "penalties stay float32", PRECISIONS)
    strategy: str = _option("default", "default (one device), mirrored (tf.distribute.MirroredStrategy "
                            "over all local GPUs; without a GPU one replica on the CPU, no faster than "
                            "default) or multi-worker (MultiWorkerMirroredStrategy over the machines in "
                            "TF_CONFIG; --batch-size is the global batch; only the chief writes the run)",
                            STRATEGIES)
    # Output
    preset: str = _option("", "start from a named recipe (gan_tf.config.PRESETS: "
                          f"{', '.join(PRESET_NAMES)}); other flags override its values",
                          ("",) + PRESET_NAMES)
    output_dir: str = _option("runs", "folder that holds one sub-folder per run")
    run_name: str | None = _option(None, "name of the run folder (default: <dataset>-<preset or style>, "
                                   "numbered if taken)")
    sample_grid: int = _option(8, "side of the per-epoch sample grid (8 -> 64 images)")
    fd_every: int = _option(5, "every N epochs, the digit classifier's Frechet distance of 1,000 samples "
                            "(--dataset mnist-5k or mnist only; 0 turns it off)")
    keep_best: bool = _option(True, "with --fd-every, also save the lowest-FD generator as "
                              "generator_best.keras")
    tensorboard: bool = _option(False, "also write TensorBoard logs to RUN/tensorboard: the epoch's losses, "
                                "D's outputs, FD and images/s as scalars, the sample grid as an image "
                                "(view with `tensorboard --logdir runs`)")
    resume: bool = _option(False, "continue the run named by --run-name (or the latest) from its last "
                           "finished epoch")

    def __post_init__(self):
        positive = {"epochs": self.epochs, "batch_size": self.batch_size, "latent_dim": self.latent_dim,
                    "generator_width": self.generator_width, "d_steps": self.d_steps,
                    "discriminator_width": self.discriminator_width, "sample_grid": self.sample_grid,
                    "r1_interval": self.r1_interval}
        if self.seed < 0:
            raise UserError(f"--seed must be 0 or a positive integer, got {self.seed}")
        if self.minibatch_kernels < 0:
            raise UserError(f"--minibatch-kernels must be 0 (off) or positive, got {self.minibatch_kernels}")
        if self.fd_every < 0:
            raise UserError(f"--fd-every must be 0 (off) or positive, got {self.fd_every}")
        for name, value in positive.items():
            if value < 1:
                raise UserError(f"--{name.replace('_', '-')} must be a positive integer, got {value}")
        for name, value in {"g_learning_rate": self.g_learning_rate,
                            "d_learning_rate": self.d_learning_rate}.items():
            if not value > 0:
                raise UserError(f"--{name.replace('_', '-')} must be positive, got {value}")
        for name, value in {"dropout": self.dropout, "label_smoothing": self.label_smoothing,
                            "ema_decay": self.ema_decay, "beta1": self.beta1, "beta2": self.beta2}.items():
            if not 0.0 <= value < 1.0:
                raise UserError(f"--{name.replace('_', '-')} must be in [0, 1), got {value}")
        for name, value in {"gradient_penalty_weight": self.gradient_penalty_weight,
                            "r1_weight": self.r1_weight, "clip_value": self.clip_value}.items():
            if value < 0:
                raise UserError(f"--{name.replace('_', '-')} must be 0 (off) or positive, got {value}")
        if self.r1_interval > 1 and not self.r1_weight:
            raise UserError(f"--r1-interval {self.r1_interval} spaces out the R1 penalty, which is off; give "
                            "--r1-weight too, or leave --r1-interval at 1")
        if self.info_categories < 0 or self.info_categories == 1 or self.info_continuous < 0:
            raise UserError("--info-categories must be 0 (off) or at least 2, and --info-continuous 0 or "
                             f"more; got {self.info_categories} and {self.info_continuous}")
        if self.info_weight < 0:
            raise UserError(f"--info-weight must be 0 or positive, got {self.info_weight}")
        if self.conditional and self.is_info:
            raise UserError("--conditional and InfoGAN codes (--info-*) do not combine; pick one")
        if self.style == "combined" and (self.conditional or self.is_info or self.spectral_norm):
            raise UserError("--style combined trains the plain DCGAN; use --style fit for --conditional, "
                             "InfoGAN codes and --spectral-norm")
        if self.style == "combined" and (self.loss not in ("non-saturating", "minimax") or self.gradient_penalty_weight
                                         or self.clip_value):
            raise UserError("--style combined trains with binary cross-entropy (non-saturating or minimax) "
                             "and R1 as its only penalty; use --style fit for other losses and regularisers")
        if self.growth_images < 0 or self.mapping_layers < 0:
            raise UserError(f"--growth-images and --mapping-layers must be 0 or more, got {self.growth_images} "
                            f"and {self.mapping_layers}")
        if not 0.0 <= self.style_mixing <= 1.0:
            raise UserError(f"--style-mixing must be a probability in [0, 1], got {self.style_mixing}")
        if self.style_mixing and self.architecture != "stylegan":
            raise UserError("--style-mixing mixes the styles of a style-based generator; add --architecture "
                            "stylegan (or --preset stylegan)")
        if self.architecture != "dcgan" and (self.style == "combined" or self.conditional or self.is_info
                                             or self.spectral_norm or self.dropout):
            raise UserError(f"--architecture {self.architecture} trains with --style fit, unconditionally, "
                            "without --spectral-norm or --dropout; drop those flags or use --architecture dcgan")
        if self.strategy == "multi-worker" and (self.style != "fit" or not self.run_name):
            raise UserError("--strategy multi-worker trains with --style fit and needs --run-name, so that every "
                            "worker names the same run folder")
        if self.architecture != "dcgan" and self.minibatch_std and self.batch_size % 4:
            raise UserError(f"--architecture {self.architecture} takes the minibatch standard deviation in groups "
                            f"of 4 samples; use a --batch-size that is a multiple of 4 (got {self.batch_size})")
        if self.architecture != "dcgan" and self.image_size == 28:
            raise UserError(f"--architecture {self.architecture} draws power-of-two sides; use --image-size 32 "
                            "(28x28 digits are padded) or 64")
        for name in ("style", "optimizer", "xla", "strategy", "precision", "loss", "preset", "architecture",
                     "resample", "style_modulation"):
            choices = CONFIG_FIELDS[name].metadata["choices"]
            if getattr(self, name) not in choices:
                raise UserError(f"--{name} must be one of {', '.join(choices)}, "
                                 f"got {getattr(self, name)!r}")
        if self.channels not in (None, 1, 3):
            raise UserError(f"--channels must be 1 or 3, got {self.channels}")
        if self.image_size not in (None, 28, 32, 64):
            raise UserError(f"--image-size must be 28, 32 or 64, got {self.image_size}")

    @property
    def is_info(self):
        return bool(self.info_categories or self.info_continuous)

    def command_line(self):
        """The `gan-tf train` command that reproduces this config (flags for non-default values only)."""
        words = ["gan-tf", "train"]
        for name, item in CONFIG_FIELDS.items():
            value = getattr(self, name)
            if name in ("resume", "output_dir", "preset") or value == item.default:
                continue
            if name == "run_name" and self.strategy != "multi-worker":  # which every worker must name
                continue
            flag = f"--{name.replace('_', '-')}"
            if isinstance(value, bool):
                words.append(flag if value else f"--no-{name.replace('_', '-')}")
            else:
                words += [flag, str(value) if str(value) else "''"]
        return " ".join(words)

    def to_json(self):
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values):
        """Build from a dict (e.g. a saved config.json); unknown keys are an error, not ignored."""
        unknown = sorted(set(values) - set(CONFIG_FIELDS))
        if unknown:
            raise UserError(f"unknown config key(s): {', '.join(unknown)}")
        return cls(**{**VALUES_BEFORE_THE_FIELD_EXISTED, **values})

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


CONFIG_FIELDS = {item.name: item for item in dataclasses.fields(TrainConfig)}
# What a config.json written before a field existed was trained with, where that is not the field's
# default: `--resume` of such a run goes on as it began.
VALUES_BEFORE_THE_FIELD_EXISTED = {"reuse_fakes": False}


# ProGAN and StyleGAN, sized for 32x32 digits on a CPU. Both train as StyleGAN did on FFHQ: the
# non-saturating loss with R1 on the reals, Adam(beta1 0, beta2 0.99), an EMA of G (half-life ~350
# steps, shorter than the default's: the average must not reach back past a growth phase). Short
# growth phases (full size after 28,000 of 125,000 images): at 32x32 the low levels learn fast and the
# budget is better spent at full size. Minibatch discrimination in D as in the DCGAN default: without
# it the style-based G collapsed to a few shapes on the 5,000 digits.
_PROGRESSIVE_VALUES = {"batch_norm": False, "minibatch_kernels": 32, "label_smoothing": 0.0, "beta1": 0.0,
                       "beta2": 0.99, "r1_weight": 1.0, "r1_interval": 1, "g_learning_rate": 2e-3,
                       "d_learning_rate": 2e-3,
                       "generator_width": 16, "discriminator_width": 16, "growth_images": 4000,
                       "epochs": 25, "ema_decay": 0.998, "reuse_fakes": False}
PROGAN_SUMMARY = ("progressive growing (Karras et al. 2018): levels 4x4 to 32x32 faded in one after the other "
                  "by a progress number, equalised learning rate, pixel norm, minibatch std; nearest "
                  "up/downsampling; non-saturating loss with R1")
PROGAN_VALUES = {"architecture": "progan", "resample": "nearest", **_PROGRESSIVE_VALUES}
STYLEGAN_SUMMARY = ("style-based generator (Karras et al. 2019), the paper's config F with StyleGAN2's weight "
                    "demodulation instead of AdaIN: mapping network, styles, learned constant input, noise "
                    "inputs, bilinear resampling, 90% style mixing, R1 0.1 on every 16th step (lazy, StyleGAN2); "
                    "grown progressively like progan")
# Demodulation and R1 0.1 (StyleGAN2-ADA's weight at low resolution): with AdaIN and R1 1 the 25 epochs
# ended at FD 9.8x real-vs-real, with AdaIN and R1 0.1 at 8.4x, with both changes at 4.4x; lazy R1 every
# 16 steps brought the run from 16.7 to about 10.5 reference minutes at 4.75x (README).
STYLEGAN_VALUES = {**_PROGRESSIVE_VALUES, "architecture": "stylegan", "resample": "bilinear", "style_mixing": 0.9,
                   "style_modulation": "demodulation", "r1_weight": 0.1, "r1_interval": 16}


# The default recipe until 2026-11-27 (D of width 64, one-sided label smoothing 0.1, no R1, Adam at 5e-4,
# 50 epochs, fresh noise for G's update): the DCGAN presets below were measured on it (README), so they keep
# it under their own changes. progan and stylegan were measured with fresh noise too (_PROGRESSIVE_VALUES).
CLASSIC_DCGAN_VALUES = {"discriminator_width": 64, "label_smoothing": 0.1, "r1_weight": 0.0, "r1_interval": 1,
                        "g_learning_rate": 5e-4, "d_learning_rate": 5e-4, "epochs": 50, "reuse_fakes": False}


@dataclass(frozen=True)
class Preset:
    """A named recipe: config values over the defaults, and the paper it follows."""

    name: str
    summary: str
    values: dict


PRESETS = {preset.name: preset for preset in (
    Preset("dcgan", "the default recipe: DCGAN (Radford et al. 2016) with the non-saturating loss, "
           "BatchNorm in G, minibatch std and discrimination in D, lazy R1 on the reals, EMA of G",
           {}),
    Preset("cgan", "conditional DCGAN (Mirza and Osindero 2014): the classic default recipe with labels into "
           "G (embedding) and D (projection, Miyato and Koyama 2018)",
           {**CLASSIC_DCGAN_VALUES, "conditional": True}),
    Preset("wgan", "Wasserstein GAN (Arjovsky et al. 2017): critic loss, weight clipping to 0.01, "
           "5 critic steps per G step, RMSprop; lr 2e-4 instead of the paper's 5e-5 so it moves within "
           "minutes",
           {**CLASSIC_DCGAN_VALUES, "loss": "wasserstein", "clip_value": 0.01, "d_steps": 5,
            "optimizer": "rmsprop",
            "g_learning_rate": 2e-4, "d_learning_rate": 2e-4, "label_smoothing": 0.0,
            "minibatch_kernels": 0}),
    Preset("wgan-gp", "WGAN-GP (Gulrajani et al. 2017): critic loss, gradient penalty 10, 5 critic steps, "
           "Adam(1e-4, beta1 0); no batch-coupling layers in the critic, which the per-sample penalty "
           "assumes",
           {**CLASSIC_DCGAN_VALUES, "loss": "wasserstein", "gradient_penalty_weight": 10.0, "d_steps": 5,
            "g_learning_rate": 1e-4,
            "d_learning_rate": 1e-4, "beta1": 0.0, "label_smoothing": 0.0, "minibatch_std": False,
            "minibatch_kernels": 0}),
    Preset("lsgan", "least-squares GAN (Mao et al. 2017): D regresses real to 1 and fake to 0, G pulls "
           "its samples to 1",
           {**CLASSIC_DCGAN_VALUES, "loss": "least-squares", "label_smoothing": 0.0}),
    Preset("hinge-sn", "hinge loss with spectral normalisation of D (Miyato et al. 2018) and TTUR "
           "(Heusel et al. 2017): D learns at 4e-4, G at 1e-4",
           {**CLASSIC_DCGAN_VALUES, "loss": "hinge", "spectral_norm": True, "g_learning_rate": 1e-4,
            "d_learning_rate": 4e-4,
            "beta1": 0.0, "label_smoothing": 0.0}),
    Preset("infogan", "InfoGAN (Chen et al. 2016): a 10-way categorical and 2 continuous codes that G "
           "must make readable by a Q head on D's body",
           {**CLASSIC_DCGAN_VALUES, "info_categories": 10, "info_continuous": 2}),
    Preset("progan", PROGAN_SUMMARY, PROGAN_VALUES),
    Preset("stylegan", STYLEGAN_SUMMARY, STYLEGAN_VALUES),
)}


def preset_config(name, **overrides):
    """The config of preset `name`, with `overrides` (e.g. command-line flags) applied on top."""
    if name not in PRESETS:
        raise UserError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    return TrainConfig(**{**PRESETS[name].values, "preset": name, **overrides})


TASKS = ("pix2pix", "cyclegan", "super-resolution")
GENERATOR_KINDS = ("unet", "resnet", "upscaler")
CONTENT_FEATURES = ("auto", "classifier", "discriminator")


@dataclass(frozen=True)
class TranslationConfig:
    """An image-to-image run: pix2pix (paired), CycleGAN (unpaired) or SRGAN-style super-resolution.

    `None` fields take the task's value from `TASK_VALUES` (the papers' choices, sized for a CPU).
    """

    task: str = _option("pix2pix", "pix2pix (paired source -> target, Isola et al. 2017), cyclegan "
                        "(unpaired, both directions, Zhu et al. 2017) or super-resolution (SRGAN, Ledig et "
                        "al. 2017: the target downscaled -> the target)", TASKS)
    source: str | None = _option(None, "the input domain (pix2pix: image i of source pairs with image i of "
                                 "target; super-resolution ignores it and downscales the target); default: "
                                 "pix2pix mnist-m-5k (remove the photograph), cyclegan mnist-5k")
    target: str | None = _option(None, "the output domain: a named data set, a folder or an .npz; default: "
                                 "pix2pix and super-resolution mnist-5k, cyclegan mnist-m-5k")
    image_size: int | None = _option(None, "side of the (target) images (default: 32 for translation, "
                                     "digits padded from 28; 28 for super-resolution)")
    scale_factor: int = _option(4, "super-resolution: how many times smaller the input is (28 -> 7)")
    generator: str | None = _option(None, "unet (pix2pix), resnet (cyclegan) or upscaler (super-resolution)",
                                    (None,) + GENERATOR_KINDS)
    generator_width: int | None = _option(None, "channels of G's first layer, doubling per downsampling "
                                          "(default: 32; cyclegan 16, whose step runs four models)")
    discriminator_width: int | None = _option(None, "channels of the PatchGAN's first layer (default: 32; "
                                              "cyclegan 16)")
    discriminator_layers: int = _option(2, "strided layers of the PatchGAN: 2 judges 8x8 patches of a "
                                        "32x32 image, each seeing 34 pixels (the paper's 3 sees 70 of 256)")
    residual_blocks: int | None = _option(None, "residual blocks of the resnet and upscaler generators "
                                          "(default: 4)")
    loss: str | None = _option(None, "adversarial loss: non-saturating (pix2pix, SRGAN) or least-squares "
                               "(CycleGAN)", (None,) + LOSS_NAMES)
    adversarial_weight: float | None = _option(None, "weight of the adversarial term; 0 trains G on its "
                                               "other losses alone (no D): the no-GAN baseline")
    reconstruction_weight: float | None = _option(None, "weight of the L1 distance to the paired target "
                                                  "(pix2pix's lambda 100)")
    content_weight: float | None = _option(None, "super-resolution: weight of the squared distance in the "
                                           "features --content-features names (SRGAN's content loss, no VGG "
                                           "download)")
    content_features: str = _option("auto", "super-resolution: where the content loss measures: classifier "
                                    "(the target's shipped classifier, frozen), discriminator (D's last "
                                    "feature layer, learned as D trains: works on any folder) or auto "
                                    "(the classifier where one is shipped for the target, else D)",
                                    CONTENT_FEATURES)
    cycle_weight: float = _option(10.0, "cyclegan: weight of the cycle-consistency L1 (the paper's 10)")
    identity_weight: float = _option(5.0, "cyclegan: weight of the identity L1 (the paper's 0.5 x cycle); "
                                     "keeps colours when an image is already in the target domain")
    epochs: int | None = _option(None, "passes over the training images (default: per task)")
    batch_size: int = _option(32, "images (or pairs) per step")
    learning_rate: float = _option(2e-4, "Adam's learning rate for G and D (both papers' 2e-4)")
    beta1: float = _option(0.5, "Adam's beta_1 (both papers' 0.5)")
    held_out: float = _option(0.1, "share of the images kept out of training, per class, to measure on")
    seed: int = _option(42, "seed of weights, shuffling, the split and dropout")
    output_dir: str = _option("runs", "folder that holds one sub-folder per run")
    run_name: str | None = _option(None, "name of the run folder (default: <task>, numbered if taken)")
    sample_grid: int = _option(8, "held-out images shown in each epoch's samples/epoch_NNNN.png")
    tensorboard: bool = _option(False, "also write TensorBoard logs to RUN/tensorboard: the epoch's losses "
                                "and images/s as scalars, the sample grid as an image (view with "
                                "`tensorboard --logdir runs`)")
    resume: bool = _option(False, "continue the run named by --run-name from its last finished epoch")

    def __post_init__(self):
        if self.task not in TASKS:
            raise UserError(f"--task must be one of {', '.join(TASKS)}, got {self.task!r}")
        if self.image_size is not None and self.image_size < 8:
            raise UserError(f"--image-size must be at least 8, got {self.image_size}")
        for name in ("batch_size", "scale_factor", "generator_width", "discriminator_width",
                     "discriminator_layers", "sample_grid", "residual_blocks"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise UserError(f"--{name.replace('_', '-')} must be a positive integer, got {getattr(self, name)}")
        if self.epochs is not None and self.epochs < 1:
            raise UserError(f"--epochs must be a positive integer, got {self.epochs}")
        if self.content_features not in CONTENT_FEATURES:
            raise UserError(f"--content-features must be one of {', '.join(CONTENT_FEATURES)}, "
                            f"got {self.content_features!r}")
        if not 0.0 < self.held_out < 1.0:
            raise UserError(f"--held-out must be between 0 and 1, got {self.held_out}")

    @property
    def paired(self):
        return self.task != "cyclegan"

    def resolved(self):
        """This config with every `None` replaced by the task's value: what a run actually uses."""
        values = {name: value for name, value in TASK_VALUES[self.task].items() if getattr(self, name) is None}
        if self.image_size is None:
            values["image_size"] = 28 if self.task == "super-resolution" else 32
        return dataclasses.replace(self, **values)

    def command_line(self):
        """The `gan-tf train-translator` command that reproduces this config (non-default flags only)."""
        words = ["gan-tf", "train-translator"]
        for name, item in TRANSLATION_FIELDS.items():
            value = getattr(self, name)
            if name in ("resume", "run_name", "output_dir") or value == item.default:
                continue
            flag = f"--{name.replace('_', '-')}"
            if isinstance(value, bool):
                words.append(flag if value else f"--no-{name.replace('_', '-')}")
            else:
                words += [flag, str(value)]
        return " ".join(words)

    def to_json(self):
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values):
        unknown = sorted(set(values) - set(TRANSLATION_FIELDS))
        if unknown:
            raise UserError(f"unknown translation config key(s): {', '.join(unknown)}")
        return cls(**values)

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


TRANSLATION_FIELDS = {item.name: item for item in dataclasses.fields(TranslationConfig)}

# The papers' recipes: pix2pix = U-Net + conditional PatchGAN, non-saturating loss + 100 x L1;
# CycleGAN = ResNet generators + PatchGANs, least-squares loss + 10 x cycle + 5 x identity;
# SRGAN = residual upscaler, content loss in a classifier's features + 1e-3 x adversarial (the paper's
# weight; here the content features are a digit classifier's, not VGG's) and a little pixel L1.
# pix2pix's paired task is MNIST-M -> MNIST: the digit is in the input, so the output is determined
# (the other way round the photograph behind the digit cannot be guessed, and L1 can only blur it).
_TASK_COMMON = {"residual_blocks": 4, "epochs": 10, "generator_width": 32, "discriminator_width": 32,
                "adversarial_weight": 1.0, "reconstruction_weight": 0.0, "content_weight": 0.0}
TASK_VALUES = {
    "pix2pix": {**_TASK_COMMON, "source": "mnist-m-5k", "target": "mnist-5k", "generator": "unet",
                "loss": "non-saturating", "reconstruction_weight": 100.0},
    "cyclegan": {**_TASK_COMMON, "source": "mnist-5k", "target": "mnist-m-5k", "generator": "resnet",
                 "loss": "least-squares", "generator_width": 16, "discriminator_width": 16},
    "super-resolution": {**_TASK_COMMON, "source": "mnist-5k", "target": "mnist-5k", "generator": "upscaler",
                         "loss": "non-saturating", "adversarial_weight": 1e-3, "reconstruction_weight": 1.0,
                         "content_weight": 1.0},
}
