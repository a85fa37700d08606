"""What every tutorial does first: quiet TensorFlow, draw into files, read `--quick` and `--out`.

Import it before TensorFlow, Keras or matplotlib (it sorts first among a script's third-party
imports): importing it sets the environment variables those libraries read when they load. Then

    options = _prologue.parse(__doc__)                  # options.quick, options.out
    options = _prologue.parse(__doc__, model=PATH)      # plus a --model flag whose default is PATH

reads the command line and creates the output folder, by default tutorials/out/NN for tutorial NN.
A script run as `python tutorials/NN_name.py` finds this module because Python puts the script's own
folder first on `sys.path`, whatever the current directory.
"""

import argparse
import os
import shutil
import sys

# TensorFlow's C++ logging: errors only (TF 2.21 still prints its two oneDNN start-up lines, which
# abseil writes before any log level is read).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["MPLBACKEND"] = "Agg"  # matplotlib draws into files: no window, no display needed

TUTORIALS = os.path.dirname(os.path.abspath(__file__))
PRETRAINED_GENERATOR = os.path.normpath(os.path.join(TUTORIALS, "..", "saved_models", "dcgan_mnist"))


def parse(doc, **flags):
    """Parse the command line of the running tutorial and create its output folder.

    Args:
        doc: the tutorial's docstring; its `Title:` line becomes the `--help` description.
        **flags: extra options by name, each with its default (a string or a number); `model=PATH`
            adds `--model` (type and default from PATH).

    Returns:
        The options: `quick` (a short run, as the tests do), `out` (the folder, created) and the extras.
    """
    script = os.path.basename(sys.argv[0])
    title = doc.strip().splitlines()[0].removeprefix("Title: ")
    parser = argparse.ArgumentParser(prog=f"python tutorials/{script}", description=title)
    parser.add_argument("--quick", action="store_true", help="a short run, well under a minute (the tests use it)")
    parser.add_argument("--out", default=os.path.join(TUTORIALS, "out", script[:2]),
                        help="folder for the figures (default: %(default)s)")
    for name, default in flags.items():
        parser.add_argument(f"--{name.replace('_', '-')}", default=default, type=type(default),
                            help="default: %(default)s")
    options = parser.parse_args()
    os.makedirs(options.out, exist_ok=True)
    return options


def replace_previous(out, name):
    """Remove run folder `name` that an earlier run of this tutorial left in `out`; returns `name`.

    Training refuses to write into an existing run folder (it would mix two runs); a tutorial's own
    output folder is its to replace, so running a tutorial twice gives the second run's folders.
    """
    shutil.rmtree(os.path.join(out, name), ignore_errors=True)
    return name
