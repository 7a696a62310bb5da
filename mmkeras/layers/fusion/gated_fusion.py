import keras
from keras import ops

from mmkeras import _checks


@keras.saving.register_keras_serializable(package="mmkeras")
class GatedFusion(keras.layers.Layer):
    """Gated Multimodal Unit (Arevalo et al., 2017) for any number of inputs.

    Each modality `x_i` becomes `h_i = tanh(W_i x_i + b_i)` of size `units`,
    and the output is `sum_i z_i * h_i`. With `mode="gated"` the gates are
    input-dependent: `z = softmax_i(W_z concat(x_1, ..., x_n) + b_z)`, one
    softmax over the modalities per unit; for two modalities this is the
    GMU's `z = sigmoid(...)`, `z * h_1 + (1 - z) * h_2`. With
    `mode="weighted"` each modality has one learned scalar and the gates are
    their softmax, the same for every example and unit.

    Call with `return_gates=True` to also get the gates, `(batch,
    num_modalities, units)`, which show how much each modality contributed.

    Args:
        units: size of the output and of each `h_i`.
        mode: `"gated"` or `"weighted"`.
        dropout: dropout rate on the output.
        kernel_initializer: initializer for the kernels.

    Example:

    >>> fusion = mmkeras.layers.GatedFusion(units=32)
    >>> image, text = np.ones((2, 24), "float32"), np.ones((2, 16), "float32")
    >>> output, gates = fusion([image, text], return_gates=True)
    >>> output.shape, gates.shape
    (TensorShape([2, 32]), TensorShape([2, 2, 32]))
    """

    def __init__(
        self,
        units,
        mode="gated",
        dropout=0.0,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        _checks.positive_int("units", units)
        _checks.one_of("mode", mode, ("gated", "weighted"))
        _checks.rate("dropout", dropout)
        self.units = units
        self.mode = mode
        self.dropout = dropout
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, inputs_shape):
        _checks.tensor_list("inputs", inputs_shape, 2)
        _checks.ranks("inputs", inputs_shape, (2,))
        self.projections = [
            self._dense(self.units, f"projection_{i}", shape)
            for i, shape in enumerate(inputs_shape)
        ]
        num_modalities = len(inputs_shape)
        if self.mode == "gated":
            features = sum(shape[-1] for shape in inputs_shape)
            self.gate_dense = self._dense(
                num_modalities * self.units, "gate", (None, features)
            )
        else:
            # Zeros start every modality at the same weight.
            self.modality_logits = self.add_weight(
                shape=(num_modalities,),
                initializer="zeros",
                name="modality_logits",
            )
        self.dropout_layer = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="dropout"
        )

    def _dense(self, units, name, input_shape):
        dense = keras.layers.Dense(
            units,
            kernel_initializer=self.kernel_initializer,
            dtype=self.dtype_policy,
            name=name,
        )
        dense.build(input_shape)
        return dense

    def call(self, inputs, return_gates=False, training=None):
        hidden = ops.stack(
            [
                ops.tanh(dense(x))
                for dense, x in zip(self.projections, inputs, strict=True)
            ],
            axis=1,
        )
        gates = self._gates(inputs)
        output = ops.sum(gates * hidden, axis=1)
        output = self.dropout_layer(output, training=training)
        if return_gates:
            return output, ops.broadcast_to(gates, ops.shape(hidden))
        return output

    def _gates(self, inputs):
        """Weights over the modalities: `(batch or 1, n, units or 1)`."""
        if self.mode == "weighted":
            weights = ops.softmax(self.modality_logits)
            return ops.cast(weights, self.compute_dtype)[None, :, None]
        logits = self.gate_dense(ops.concatenate(list(inputs), axis=-1))
        logits = ops.reshape(logits, (-1, len(inputs), self.units))
        return ops.softmax(logits, axis=1)

    def compute_output_shape(self, inputs_shape):
        return (inputs_shape[0][0], self.units)

    def compute_output_spec(self, inputs, return_gates=False, training=None):
        shape = self.compute_output_shape([x.shape for x in inputs])
        output = keras.KerasTensor(shape, dtype=self.compute_dtype)
        if not return_gates:
            return output
        gates_shape = (shape[0], len(inputs), self.units)
        return output, keras.KerasTensor(gates_shape, dtype=self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "mode": self.mode,
                "dropout": self.dropout,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
            }
        )
        return config
