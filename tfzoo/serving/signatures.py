"""Serving functions whose inputs are checked against their signature.

A SavedModel signature declares each input's shape, but TensorFlow does
not check a fed tensor against it: a 2-D `prompt` or a vector
`max_new_tokens` ran on into obscure errors deep in the graph
(`TensorScatterUpdate`, `RaggedGetItem/cond`). `serving_function` adds a
run-time check of every input's shape, so such a request fails at once
with `Shape of tensor prompt [1,1] is not compatible with expected shape
[?]`, naming the input.
"""

import functools
import inspect

import tensorflow as tf


def serving_function(function, input_signature):
    """`tf.function(function, input_signature=...)`, each input checked
    at run time against its `TensorSpec`'s shape (see the module
    docstring).

    Args:
        function: a Python function of tensors; its tensor defaults become
            the signature's defaults (TF Serving fills in a missing input).
        input_signature: list of `tf.TensorSpec`, one per argument, in
            order, each with a `name`.

    Returns:
        A `tf.function` to save as a signature.

    Raises:
        tf.errors.InvalidArgumentError (when called): an input of another
            shape, named in the message.
    """
    parameters = inspect.signature(function)

    @functools.wraps(function)
    def checked(*args, **kwargs):
        bound = parameters.bind(*args, **kwargs)
        bound.apply_defaults()
        inputs = [tf.ensure_shape(value, spec.shape, name=spec.name)
                  for value, spec in zip(bound.arguments.values(),
                                         input_signature)]
        return function(*inputs)

    return tf.function(checked, input_signature=input_signature)
