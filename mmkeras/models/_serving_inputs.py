"""In-graph checks of what a signature or an ONNX graph receives, so a bad
request fails naming the input (and the example) instead of deep inside
the model, or worse, being answered.

TensorFlow gets an assertion for each check, which the checked value
depends on (TF Serving feeds any shape the client sends; an assertion
no output depends on may run after the op it should have guarded).
tf2onnx drops assertions, so the numeric checks also route the value
through a `Gather` that is out of bounds exactly when the check fails:
onnxruntime then refuses the request naming that node (`token_ids_outside
_0_13`, `image_is_an_empty_batch`).
"""

import tensorflow as tf

# What `tf.io.decode_image` reads, by the bytes a file starts with.
IMAGE_FORMATS = "JPEG, PNG, GIF, BMP or WebP"
_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF8", b"BM")
_HEADER = 12


def checked(spec, value, limit=None):
    """`value` fed for `spec` (a named `tf.TensorSpec`), once it has
    passed every check that applies: its shape (rank and fixed sizes), a
    batch (a leading `None`) that is not empty, UTF-8 text (string inputs
    but `image_bytes`, whose bytes `image_headers` checks) and, with
    `limit`, integers in `[0, limit)`."""
    name = spec.name
    value = _shaped(name, spec, value)
    if spec.shape.rank and spec.shape[0] is None:
        value = _not_empty(name, value)
    if spec.dtype == tf.string and name != "image_bytes":
        value = _utf8(name, value)
    if limit is not None:
        value = _in_range(name, value, limit)
    return value


def image_headers(image_bytes):
    """`image_bytes` once each starts as a JPEG, PNG, GIF, BMP or WebP
    file does; the first that does not is named by its index and size."""
    head = tf.strings.join(
        [tf.strings.substr(image_bytes, 0, _HEADER), b"\0" * _HEADER]
    )
    known = tf.strings.substr(head, 8, 4) == b"WEBP"
    known &= tf.strings.substr(head, 0, 4) == b"RIFF"
    for magic in _MAGIC:
        known |= tf.strings.substr(head, 0, len(magic)) == magic
    first = _first_false(known)
    sizes = tf.concat([tf.strings.length(image_bytes), [0]], 0)
    size = tf.gather(sizes, first)
    message = tf.strings.format(
        "image_bytes[{}] is not a " + IMAGE_FORMATS + " image ({} bytes): "
        "send the bytes of an image file",
        [first, size],
    )
    assertion = tf.debugging.Assert(tf.reduce_all(known), [message])
    return _after(assertion, image_bytes)


def counted(name, value, counts, limit, fix):
    """`value` once each of its examples has at most `limit` of
    `counts` (tokens of a prompt); the first with more is named by its
    index and count, followed by `fix`."""
    counts = tf.cast(counts, tf.int32)
    fits = counts <= limit
    first = _first_false(fits)
    count = tf.gather(tf.concat([counts, [0]], 0), first)
    message = tf.strings.format(
        f"{name}[{{}}] has {{}} tokens, more than the {limit} this model "
        f"takes; {fix}",
        [first, count],
    )
    assertion = tf.debugging.Assert(tf.reduce_all(fits), [message])
    return _after(assertion, value)


def _shaped(name, spec, value):
    shape = tf.shape(value)
    rank = spec.shape.rank
    # Padded, so a value of lower rank is indexed safely.
    padded = tf.concat([shape, tf.zeros([rank], tf.int32)], 0)
    ok = tf.equal(tf.size(shape), rank)
    for axis, size in enumerate(spec.shape):
        if size is not None:
            ok &= tf.equal(padded[axis], size)
    expected = ", ".join("batch" if s is None else str(s) for s in spec.shape)
    message = tf.strings.format(
        f"{name} must have shape ({expected}) ({spec.dtype.name}); "
        "received shape {}",
        shape,
    )
    return _after(tf.debugging.Assert(ok, [message]), value)


def _not_empty(name, value):
    assertion = tf.debugging.Assert(
        tf.shape(value)[0] > 0,
        [f"{name} is an empty batch: send at least one example"],
    )
    value = _after(assertion, value)
    if value.dtype == tf.string:
        return value
    empty = tf.cast(tf.equal(tf.shape(value)[0], 0), tf.int32)
    zero = tf.gather(
        tf.zeros([1], value.dtype), empty, name=f"{name}_is_an_empty_batch"
    )
    if value.dtype == tf.bool:
        return value | zero
    return value + zero


def _utf8(name, text):
    valid = tf.equal(
        tf.strings.unicode_transcode(text, "UTF-8", "UTF-8", errors="replace"),
        text,
    )
    message = tf.strings.format(
        f"{name}[{{}}] is not UTF-8 text: send strings encoded as UTF-8",
        _first_false(valid),
    )
    return _after(tf.debugging.Assert(tf.reduce_all(valid), [message]), text)


def _in_range(name, ids, limit):
    flat = tf.reshape(ids, [-1])
    valid = (flat >= 0) & (flat < limit)
    assertion = tf.debugging.Assert(
        tf.reduce_all(valid),
        [
            f"{name} must hold ids in [0, {limit}); received",
            tf.boolean_mask(flat, tf.logical_not(valid)),
        ],
        summarize=8,
    )
    ids = _after(assertion, ids)
    # ONNX's Gather takes [-limit, limit): negative ids are sent past the
    # end, so any id outside [0, limit) is out of bounds.
    index = tf.where(ids < 0, limit, ids)
    table = tf.range(limit, dtype=ids.dtype)
    return tf.gather(table, index, name=f"{name}_outside_0_{limit}")


def _first_false(flags):
    """The index of the first False of `flags`, its length if none."""
    flags = tf.concat([tf.cast(flags, tf.int32), [0]], 0)
    return tf.argmin(flags, output_type=tf.int32)


def _after(assertion, value):
    with tf.control_dependencies([assertion]):
        return tf.identity(value)
