"""Writes a task model's serving functions as a SavedModel."""

import tensorflow as tf


def write_saved_model(family, path):
    """Saves `family.functions()` as the signatures of a SavedModel at
    `path`, `family.default_signature` also as `serving_default`."""
    functions = family.functions()
    module = tf.Module()
    # The functions capture these variables; tracking them saves them.
    module.model_variables = [v.value for v in family.model.variables]
    for name, function in functions.items():
        setattr(module, name, function)
    signatures = {
        name: function.get_concrete_function()
        for name, function in functions.items()
    }
    default = family.default_signature
    signatures["serving_default"] = signatures.get(
        default, next(iter(signatures.values()))
    )
    tf.saved_model.save(module, path, signatures=signatures)
