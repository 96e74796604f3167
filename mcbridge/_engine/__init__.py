"""The Monte Carlo sampling engine (TensorFlow-specific; internal).

`mcbridge.mc_predict` is its public face. The parts, one concern each:

* `registry`: every layer that draws random numbers, how it samples under
  MC prediction (mask shape, what is shared) and how it is switched; layers
  with randomness that are not registered are refused.
* `masks`: dropout masks from packed random bits (TensorFlow kernels).
* `sampling`: the always-sampling copies of the registered layers.
* `graph`: the model as a chain of layers, the region each layer's output
  depends on, the rebuilt graph around the model's own layers and its split.
* `plan`: a frozen value saying what runs once, what is tiled, what is
  cropped and fused, and the chunk sizes; built from the model and the request.
* `run`: the compiled functions of one model and the chunk loop.

Nothing here writes onto the user's model or its layers.
"""
