"""
Title: From a trained generator to a served model
Author: gan-tf
Description: Export a generator as a versioned SavedModel in TensorFlow Serving's layout, inspect it
with saved_model_cli, load and sample it in a process that has never heard of gan_tf, and build the
exact REST request and response TF Serving exchanges.
Time on a laptop CPU: about 1 minute on 2 cores (`--quick`: 24 seconds).

What you will learn:
- the layout TF Serving expects (model/version/saved_model.pb) and why versions are never overwritten;
- the two signatures: `serving_default` (z -> images) and `sample` (num_samples, seed -> images + PNGs);
- the REST predict format, row ("instances") and columnar ("inputs"), and how binary outputs travel.
"""

import base64
import json
import os
import shutil
import subprocess
import sys

import _prologue
import keras
import numpy as np
import tensorflow as tf

from gan_tf import data, export
from gan_tf.errors import UserError
from gan_tf.gan import GAN
from gan_tf.models import build_discriminator, build_generator

options = _prologue.parse(__doc__)
epochs = 1 if options.quick else 5  # the default `gan-tf train` run is 50 (saved_models/dcgan_mnist is one)

## A generator to export
# A few epochs of the default recipe; `gan-tf train` followed by `gan-tf export --run runs/NAME`
# does the same from the command line.
keras.utils.set_random_seed(0)
gan = GAN(build_generator(64), build_discriminator(logits=True, dropout=0.0, minibatch_std=True),
          ema_decay=0.999, seed=0)
gan.compile(keras.optimizers.Adam(5e-4, beta_1=0.5), keras.optimizers.Adam(5e-4, beta_1=0.5))
gan.fit(data.to_dataset(data.load("mnist-5k"), 32, seed=0), epochs=epochs, verbose=0, shuffle=False)
generator = gan.build_sampling_generator()

## Export: saved_models/<name>/<version>/
base = os.path.join(options.out, "saved_models")
shutil.rmtree(base, ignore_errors=True)
first = export.export_generator(generator, "tutorial_dcgan", base, metadata={"epochs": epochs})
second = export.export_generator(generator, "tutorial_dcgan", base)
print(f"exported {first} and {second}: the next free version each time")
try:
    export.export_generator(generator, "tutorial_dcgan", base, version=1)
except UserError as error:  # a mistake you can fix, with a message that says how
    print(f"asking for version 1 again: {error}")
print(open(os.path.join(base, "models.config")).read())

## Inspect with saved_model_cli
# The tool is installed beside this Python (a virtual environment need not be activated to use it).
saved_model_cli = shutil.which("saved_model_cli", path=os.path.dirname(sys.executable)) or "saved_model_cli"
shown = subprocess.run([saved_model_cli, "show", "--dir", first, "--all"], capture_output=True, text=True)
signature_lines = [line for line in shown.stdout.splitlines() if "signature_def[" in line or "inputs[" in line
                   or "outputs[" in line]
print("\n".join(signature_lines))
with open(os.path.join(options.out, "saved_model_cli.txt"), "w") as file:
    file.write(shown.stdout)

## Load without project code
# A fresh Python that imports only TensorFlow: this is all a deployer needs.
script = (
    "import sys, numpy as np, tensorflow as tf\n"
    "model = tf.saved_model.load(sys.argv[1])\n"
    "out = model.signatures['sample'](num_samples=tf.constant(4), seed=tf.constant(7, tf.int64))\n"
    "open(sys.argv[2], 'wb').write(out['images_png_bytes'].numpy()[0])\n"
    "print('gan_tf imported:', 'gan_tf' in sys.modules, '| images', out['images'].shape)\n")
png_path = os.path.join(options.out, "first_sample.png")
result = subprocess.run([sys.executable, "-c", script, first, png_path], capture_output=True, text=True,
                        env=dict(os.environ, PYTHONPATH=""), cwd=options.out)
print(result.stdout.strip())

## The REST exchange, as TF Serving does it
# POST /v1/models/tutorial_dcgan:predict, here answered by running the SavedModel in this process.
model = tf.saved_model.load(first)
request = {"signature_name": "sample", "inputs": {"num_samples": 2, "seed": 7}}
outputs = model.signatures["sample"](num_samples=tf.constant(2), seed=tf.constant(7, tf.int64))
response = {"outputs": {
    "images": np.round(outputs["images"].numpy(), 3).tolist(),
    "images_png_bytes": [{"b64": base64.b64encode(png).decode()} for png in outputs["images_png_bytes"].numpy()]}}
with open(os.path.join(options.out, "rest_exchange.json"), "w") as file:
    json.dump({"request": request, "response": response}, file)
print("request :", json.dumps(request))
print("response:", json.dumps(response)[:160], "...")
print("binary outputs (names ending in _bytes) travel as {\"b64\": ...}; gan_tf.serving.RestClient decodes them")
print("with a server running: gan-tf serve-client --url http://localhost:8501 --model tutorial_dcgan --n 16")
print(f"files in {options.out}")
