import keras
import tensorflow as tf

from mmkeras import _checks
from mmkeras.models.preprocessor import Preprocessor

# The MLM label of positions the loss skips (MaskedSparseCategorical-
# Crossentropy(pad_id=IGNORED)).
IGNORED = -100
# BERT's split of the chosen positions: [MASK], a random token, unchanged.
_MASK_SHARE, _RANDOM_SHARE = 0.8, 0.1
_BUCKETS = 2**24


@keras.saving.register_keras_serializable(package="mmkeras")
class ViLTPreprocessor(Preprocessor):
    """Raw image-caption pairs to `ViLTPretrainer` inputs and labels.

    Takes a dict (batched or not) with `"image"` (uint8 or [0, 1] floats)
    and the captions under `text_key`, and returns `(inputs, labels)`:

    - `inputs["image"]`: pixels through the `image_converter`;
    - `inputs["token_ids"]`: the caption's ids (longer captions are cut at
      the tokenizer's `sequence_length`);
    - `inputs["masked_ids"]`: the ids with BERT's masking: `mask_rate` of
      the caption's tokens (at least one) are chosen; 80% of those become
      `[MASK]`, 10% a random token, 10% stay;
    - `labels["mlm"]`: the chosen positions' original ids, -100 elsewhere;
      `labels["itm"]`: `[1, 0]` (the pair matches, its hard negative does
      not); `labels["itc"]`: zeros (InfoNCE ignores them).

    The masking is seeded and stateless: a position's draw hashes `seed`,
    the caption, the image's pixel sum and the position, so a pair gets the
    same mask in every epoch, on any number of replicas and under
    `tf.data`'s parallel map. A caption with no tokens is an error naming
    it.

    Args:
        image_converter: an `mmkeras.layers.ImageConverter`.
        tokenizer: a `WordPieceTokenizer` with a `sequence_length` and a
            `[MASK]` token.
        text_key: the key of the captions in the raw dicts.
        mask_rate: the share of caption tokens MLM predicts, in (0, 1).
        seed: the masking seed.

    Example:

    >>> preprocessor = mmkeras.models.vilt.ViLTPreprocessor(
    ...     mmkeras.layers.ImageConverter(image_size=(32, 32)),
    ...     mmkeras.text.WordPieceTokenizer(
    ...         ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "red",
    ...          "circle"], sequence_length=8))
    >>> x, y = preprocessor({"image": np.zeros((2, 40, 40, 3), "uint8"),
    ...                      "caption": ["a red circle", "a circle"]})
    >>> y["mlm"].shape
    TensorShape([2, 8])
    """

    def __init__(
        self,
        image_converter=None,
        tokenizer=None,
        text_key="caption",
        mask_rate=0.15,
        seed=0,
        **kwargs,
    ):
        super().__init__(image_converter, tokenizer, **kwargs)
        if getattr(tokenizer, "mask_token_id", None) is None:
            raise ValueError(
                "ViLTPreprocessor masks tokens for MLM: give a tokenizer "
                "whose vocabulary has a [MASK] token. Received: "
                f"tokenizer={tokenizer!r}"
            )
        if tokenizer.sequence_length is None:
            raise ValueError(
                "ViLTPreprocessor needs a tokenizer with a sequence_length "
                "(the model's text positions). Received: sequence_length="
                "None"
            )
        if not isinstance(text_key, str) or not text_key:
            raise ValueError(
                "text_key must be the non-empty key of the captions, such "
                f"as 'caption'. Received: text_key={text_key!r}"
            )
        _checks.rate("mask_rate", mask_rate)
        if not 0.0 < mask_rate < 1.0:
            raise ValueError(
                f"mask_rate must be in (0, 1). Received: mask_rate={mask_rate}"
            )
        _checks.integer("seed", seed)
        self.text_key = text_key
        self.mask_rate = mask_rate
        self.seed = seed

    def call(self, x, y=None, sample_weight=None):
        captions = tf.convert_to_tensor(x[self.text_key])
        ids = self.tokenize(captions)
        images = tf.convert_to_tensor(x["image"])
        pixels = self.convert_images(images)
        ids = _checked_not_empty(ids, captions, self.text_key)
        masked_ids, mlm = self.mask(ids, captions, images)
        inputs = {"image": pixels, "token_ids": ids, "masked_ids": masked_ids}
        pair = tf.ones_like(ids[..., :2]) * tf.constant([1, 0], tf.int32)
        labels = {
            "itm": pair,
            "mlm": mlm,
            "itc": tf.zeros_like(ids[..., 0]),
        }
        return keras.utils.pack_x_y_sample_weight(inputs, labels, sample_weight)

    def mask(self, ids, captions, images):
        """`(masked_ids, labels)` for token ids `ids` of `captions` (the
        draws hash them with the images' pixel sums)."""
        tokenizer = self.tokenizer
        special = [
            getattr(tokenizer, f"{role}_token_id", None)
            for role in tokenizer.special_tokens
        ]
        special = sorted({i for i in special if i is not None})
        real = tf.ones_like(ids, tf.bool)
        for token in special:
            real &= ids != token
        salt = tf.strings.as_string(
            tf.reduce_sum(tf.cast(images, tf.float32), axis=[-3, -2, -1]),
            precision=2,
        )
        chosen_draw, kind_draw, token_draw = (
            self._draws(name, ids, captions, salt)
            for name in ("chosen", "kind", "token")
        )
        chosen = real & (chosen_draw < self.mask_rate)
        # At least one position per caption: the real one drawn lowest.
        lowest = tf.argmin(tf.where(real, chosen_draw, 2.0), axis=-1)
        forced = tf.one_hot(
            lowest, tf.shape(ids)[-1], on_value=True, off_value=False
        )
        none = ~tf.reduce_any(chosen, axis=-1, keepdims=True)
        chosen |= forced & real & none
        # Random replacements come from the ordinary tokens.
        low = special[-1] + 1 if special else 0
        span = max(tokenizer.vocabulary_size() - low, 1)
        random_ids = low + tf.cast(token_draw * span, tf.int32)
        replaced = tf.where(
            kind_draw < _MASK_SHARE,
            tokenizer.mask_token_id,
            tf.where(kind_draw < _MASK_SHARE + _RANDOM_SHARE, random_ids, ids),
        )
        masked = tf.where(chosen, replaced, ids)
        labels = tf.where(chosen, ids, IGNORED)
        return masked, labels

    def _draws(self, name, ids, captions, salt):
        """Uniform [0, 1) floats shaped as `ids`, one per position, fixed
        by the seed, `name`, the caption, the salt and the position."""
        length = tf.shape(ids)[-1]
        positions = tf.strings.as_string(tf.range(length))
        key = tf.strings.join(
            [f"{self.seed}/{name}/", captions, "/", salt], separator=""
        )
        shape = tf.shape(ids)
        keys = tf.strings.join(
            [
                tf.broadcast_to(key[..., None], shape),
                tf.broadcast_to(positions, shape),
            ],
            separator="#",
        )
        buckets = tf.strings.to_hash_bucket_fast(keys, _BUCKETS)
        return tf.cast(buckets, tf.float32) / _BUCKETS

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "text_key": self.text_key,
                "mask_rate": self.mask_rate,
                "seed": self.seed,
            }
        )
        return config


def _checked_not_empty(ids, captions, key):
    """`ids` once every caption has a token; else an error naming the
    first empty caption."""
    empty = tf.reduce_all(tf.equal(ids, 0), axis=-1)
    if tf.executing_eagerly():
        flat = tf.reshape(empty, [-1]).numpy()
        if flat.any():
            index = int(flat.argmax())
            text = tf.reshape(captions, [-1])[index].numpy().decode()
            raise ValueError(
                f"{key}[{index}] has no tokens ({text!r}): every caption "
                "needs a word for MLM and ITM; drop empty captions"
            )
        return ids
    message = f"a {key} has no tokens: drop empty captions"
    check = tf.debugging.assert_equal(
        tf.reduce_any(empty), False, message=message
    )
    with tf.control_dependencies([check]):
        return tf.identity(ids)
