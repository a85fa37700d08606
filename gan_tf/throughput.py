"""How much of the machine a training run uses: FLOPs of a step, the matmul peak, and their ratio (MFU).

Model FLOP utilisation (MFU) = images/s x FLOPs per image of a training step / the machine's peak.
It says whether a faster run needs faster math (MFU near 1) or less time outside it (MFU low), which
images/s alone cannot.

FLOPs of a step are counted from the models: TensorFlow's graph profiler counts the float operations
of one traced forward pass of G and of D (convolutions, matmuls and the element-wise ops around
them), and a training step is assembled from those with the usual rule that a backward pass costs two
forward passes (one for the input gradients, one for the weight gradients):

    each D step:  G forward + D forward on reals and fakes + both backward       =  G + 6 D
    the G step:   G forward + D forward + D's input gradients + G backward       = 3 G + 2 D

so d_steps (G + 6 D) + 3 G + 2 D per image; when G's update reuses the fakes of D's last update
(`reuse_fakes`, the default recipe) its forward pass is already done: d_steps (G + 6 D) + 2 G + 2 D.
(Profiling the whole traced `GAN.train_step` of the 2026-11-26 default models gives 365 MFLOP per image against
this formula's 358: the difference is the optimizers and metrics.) Penalties that differentiate D twice
(R1, WGAN-GP) are not model FLOPs and are not counted, as MFU is usually defined; their cost shows as a
lower MFU.
"""

import functools
import time

import tensorflow as tf

PROFILE_BATCH = 8  # images per profiled forward pass; FLOPs per image do not depend on it


def graph_flops(graph):
    """Float operations TensorFlow's graph profiler counts in a traced `graph` (a concrete function's)."""
    from tensorflow.python.profiler import model_analyzer, option_builder  # the graph profiler has no TF2 API

    options = (option_builder.ProfileOptionBuilder(option_builder.ProfileOptionBuilder.float_operation())
               .with_empty_output().build())
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")  # the profiler warns that its own shape helper is deprecated
    try:
        return model_analyzer.profile(graph, options=options).total_float_ops
    finally:
        logger.setLevel(level)


def forward_flops(model, batch_size=PROFILE_BATCH):
    """Float operations of one forward pass of `model` (training mode), per example."""
    specs = [tf.TensorSpec((batch_size, *tensor.shape[1:]), tensor.dtype) for tensor in model.inputs]
    names = [tensor.name.split(":")[0] for tensor in model.inputs]

    def forward(*inputs):
        arguments = dict(zip(names, inputs)) if len(inputs) > 1 else inputs[0]
        return model(arguments, training=True)

    return graph_flops(tf.function(forward).get_concrete_function(*specs).graph) / batch_size


def training_step_flops(generator, discriminator, d_steps=1, reuse_fakes=False):
    """Model FLOPs of one training step per real image (the module docstring's formula)."""
    g, d = forward_flops(generator), forward_flops(discriminator)
    return d_steps * (g + 6 * d) + (2 if reuse_fakes else 3) * g + 2 * d


def matmul_peak_flops(size=1024, repeats=8, trials=3, dtype="float32"):
    """This machine's matmul peak in FLOP/s: the best of `trials` timings of `repeats` size x size
    matmuls on the default device (a GPU if there is one). The benches use `../shared/machine_peak.py`'s
    settings (size 2048, 10 x 5, several seconds); a run's MFU uses size 1024, 8 x 3 (under a second on
    2 cores)."""
    a = tf.random.normal((size, size), seed=1, dtype=dtype)
    b = tf.random.normal((size, size), seed=2, dtype=dtype)
    matmul = tf.function(tf.linalg.matmul)
    matmul(a, b).numpy()  # trace and warm up
    best = 0.0
    for _ in range(trials):
        started = time.perf_counter()
        for _ in range(repeats):
            product = matmul(a, b)
        product.numpy()
        best = max(best, 2 * size ** 3 * repeats / (time.perf_counter() - started))
    return best


def benchmark_peak_flops():
    """The peak as the benches measure it: `../shared/machine_peak.py`'s settings (2048, 10 x 5)."""
    return matmul_peak_flops(size=2048, repeats=10, trials=5)


@functools.lru_cache(maxsize=None)
def process_peak_flops(dtype="float32", size=1024):
    """`matmul_peak_flops` measured once per process (a training run's MFU; tests train many times)."""
    return matmul_peak_flops(size=size, dtype=dtype)


def peak_dtype(precision, on_gpu):
    """The dtype whose matmul peak a run in `precision` is measured against: its compute dtype on a GPU,
    float32 on a CPU (whose float16 kernels are ~100x slower: a peak in them would mean nothing)."""
    if not on_gpu:
        return "float32"
    return {"mixed_float16": "float16", "mixed_bfloat16": "bfloat16"}.get(precision, "float32")


def run_peak_flops(strategy, precision):
    """(peak FLOP/s of the devices a run trains on, the dtype measured): one device's matmul peak times
    the GPUs in sync, or times the workers on CPUs (replicas on one CPU share its cores). A GPU needs
    larger matrices than a CPU to reach its peak."""
    gpus = tf.config.list_logical_devices("GPU")
    dtype = peak_dtype(precision, bool(gpus))
    if gpus:
        devices = strategy.num_replicas_in_sync
    else:
        resolver = getattr(strategy, "cluster_resolver", None)
        cluster = resolver.cluster_spec().as_dict() if resolver is not None else {}
        devices = max(1, sum(len(cluster.get(kind, [])) for kind in ("chief", "worker")))
    return devices * process_peak_flops(dtype, 4096 if gpus else 1024), dtype


def mfu(images_per_second, flops_per_image, peak_flops):
    """Model FLOP utilisation: the fraction of the peak the training step's model FLOPs use."""
    return float(f"{images_per_second * flops_per_image / peak_flops:.4g}")
