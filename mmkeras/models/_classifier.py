"""Parts shared by the image + text classifiers (`FusionClassifier`,
`HybridFusionClassifier`): encoder checks and the classifier MLP."""

import keras


def check_encoders(image_encoder, text_encoder):
    for name, encoder in (
        ("image_encoder", image_encoder),
        ("text_encoder", text_encoder),
    ):
        if not isinstance(encoder, keras.layers.Layer):
            raise TypeError(
                f"{name} must be a Keras layer such as an mmkeras "
                f"encoder. Received: {name}={encoder!r}"
            )


def classifier_head(model, name, input_shape):
    """`Dense(hidden_dim, relu) -> Dropout -> Dense(num_classes)` in the
    model's dtype policy, built for `input_shape`."""
    policy = model.dtype_policy
    head = keras.Sequential(
        [
            keras.layers.Dense(model.hidden_dim, "relu", dtype=policy),
            keras.layers.Dropout(model.dropout, dtype=policy),
            keras.layers.Dense(model.num_classes, dtype=policy),
        ],
        name=name,
    )
    head.build(input_shape)
    return head
