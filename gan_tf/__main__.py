"""`python -m gan_tf ...` is the same as the `gan-tf` command."""

import sys

from gan_tf.cli import main

sys.exit(main())
