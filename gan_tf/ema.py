"""An exponential moving average of a model's weights (used for G in both training styles).

Karras et al. 2018 and Yazici et al. 2019: averaging G's weights over the last few thousand steps
removes much of the step-to-step jitter of adversarial training, giving cleaner and more stable
samples at no training cost. The average is what sampling, the saved generator and the export use.
"""

import keras
from keras import ops


class WeightAverage(keras.layers.Layer):
    """Holds `decay`-averaged copies of `model`'s weights.

    A Layer so that a model holding it tracks (and checkpoints) its variables. The variables use
    `only_first_replica` aggregation, which makes `update()` valid inside a tf.distribute replica
    context, where every replica computes the same average.
    """

    def __init__(self, model, decay, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}; use 0 in the config to turn EMA off")
        self.model = model
        self.decay = decay
        self.averages = [
            self.add_weight(shape=weight.shape, initializer="zeros", trainable=False, dtype=weight.dtype,
                            name=f"average_{index}", aggregation="only_first_replica")
            for index, weight in enumerate(model.weights)]
        self.reset()
        self.built = True  # variables exist now; Keras must not try to build it from data

    def update(self):
        for average, weight in zip(self.averages, self.model.weights):
            if weight.trainable:
                average.assign(self.decay * average + (1.0 - self.decay) * weight)
            else:  # BatchNorm's moving statistics are averages already: copy them.
                average.assign(weight)

    def reset(self):
        for average, weight in zip(self.averages, self.model.weights):
            average.assign(weight)

    def averaged_model(self):
        """A fresh copy of the model carrying the averaged weights."""
        averaged = keras.models.clone_model(self.model)
        averaged.set_weights([ops.convert_to_numpy(average) for average in self.averages])
        return averaged
