import json
import os
import re
import stat
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import mmkeras
from mmkeras.export import ExportError
from mmkeras.export import verify
from mmkeras.models import serving as serving_lib
from mmkeras.models.generative_serving import GenerativeServing
from mmkeras.models.serving import RequestError
from mmkeras.testing import run_export_test
from mmkeras.testing import tiny_models as tiny

CONSUMERS = os.path.join(os.path.dirname(mmkeras.__file__), "export/consumers")
# One verified export per family, shared by the tests of this file (one
# xdist worker runs a whole file: the Makefile's --dist loadfile).
_EXPORTS = {}
_PROGRESS = {}
# The batch sizes each artifact ran at in its consumer, by family and kind.
_SIZES = {}


def _exported(family, tmp_path_factory):
    """The family's tiny model and its verified artifacts, written under
    umask 022 with the export's progress lines kept in `_PROGRESS` and
    the batch sizes it verified in `_SIZES`."""
    if family not in _EXPORTS:
        model = tiny.model(family)
        out_dir = tmp_path_factory.mktemp(family)
        lines = _PROGRESS[family] = []
        sizes = _SIZES[family] = {}
        run_consumer = verify.run_consumer

        def recording(kind, paths, inputs):
            for path, arrays in zip(paths, inputs, strict=True):
                artifact = os.path.basename(os.path.dirname(path))
                sizes[artifact] = {int(k.split("/")[-1]) for k in arrays}
            return run_consumer(kind, paths, inputs)

        umask = os.umask(0o022)
        try:
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(verify, "run_consumer", recording)
                written = run_export_test(
                    model, out_dir, "all", progress=lines.append
                )
        finally:
            os.umask(umask)
        _EXPORTS[family] = model, written
    return _EXPORTS[family]


def _png(height, width, seed=0):
    pixels = np.random.default_rng(seed).integers(
        0, 256, (height, width, 3), "uint8"
    )
    return tf.io.encode_png(pixels).numpy()


def _without(tmp_path, *modules):
    """An environment where importing `modules` fails."""
    shadow = tmp_path / "shadow"
    for module in modules:
        (shadow / module).mkdir(parents=True)
        (shadow / module / "__init__.py").write_text(
            f"raise ImportError('{module} must not be needed here')\n"
        )
    return {**os.environ, "PYTHONPATH": str(shadow)}


@pytest.mark.parametrize("family", tiny.FAMILIES)
def test_every_artifact_is_written_and_verified(family, tmp_path_factory):
    model, written = _exported(family, tmp_path_factory)
    serving = model.serving()
    signatures = set(serving.functions())
    # Tensors always; strings too, since tiny models have a tokenizer.
    assert serving.default_signature in signatures
    assert len(signatures) >= 2
    assert set(written) == {"saved_model", "saved_model_xla", "onnx"}
    # Batch polymorphism on the plain graphs; the XLA variant, compiled
    # again for each batch size, at one.
    assert _SIZES[family] == {
        "saved_model": {1, 3},
        "saved_model_xla": {1},
        "onnx": {1, 3},
    }
    for kind in ("saved_model", "saved_model_xla"):
        with open(os.path.join(written[kind], "verify.json")) as file:
            checked = {key.split("/")[0] for key in json.load(file)}
        assert checked == signatures
        loaded = tf.saved_model.load(written[kind])
        assert set(loaded.signatures) == signatures | {"serving_default"}
    onnx_files = {
        name[: -len(".onnx")]
        for name in os.listdir(written["onnx"])
        if name.endswith(".onnx")
    }
    assert onnx_files == set(serving.onnx_functions())


@pytest.mark.parametrize("family", tiny.FAMILIES)
def test_only_the_xla_variant_calls_xla(family, tmp_path_factory):
    _, written = _exported(family, tmp_path_factory)

    def graph(kind):
        with open(os.path.join(written[kind], "saved_model.pb"), "rb") as f:
            return f.read()

    assert b"_XlaMustCompile" not in graph("saved_model")
    assert b"_XlaMustCompile" in graph("saved_model_xla")


# Verification runs every family's SavedModels through this script where
# `import mmkeras` fails; here its command line on a family with two
# string inputs, and on a language model's prompts.
@pytest.mark.parametrize("family", ["vqa"])
def test_serving_script_runs_without_mmkeras(
    family, tmp_path, tmp_path_factory
):
    _run_serving_script(family, tmp_path, tmp_path_factory)


def test_serving_script_answers_prompts_without_mmkeras(
    tmp_path, tmp_path_factory
):
    _run_serving_script("causal_lm", tmp_path, tmp_path_factory)


def _run_serving_script(family, tmp_path, tmp_path_factory):
    model, written = _exported(family, tmp_path_factory)
    image = tmp_path / "scene.png"
    image.write_bytes(_png(30, 20))
    serving = model.serving()
    inputs = _request(serving, [image.read_bytes()])
    command = [
        sys.executable,
        os.path.join(CONSUMERS, "serve_saved_model.py"),
        written["saved_model"],
        f"--signature={serving.default_signature}",
    ]
    for name, values in inputs.items():
        for value in values:
            shown = f"@{image}" if name == "image_bytes" else value
            command.append(f"--input={name}={shown}")
    env = _without(tmp_path, "mmkeras")
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    outputs = json.loads(result.stdout.splitlines()[-1])
    loaded = _saved_model(family, tmp_path_factory)
    function = loaded.signatures[serving.default_signature]
    expected = function(**{k: tf.constant(v) for k, v in inputs.items()})
    assert set(outputs) == set(expected)
    for key, value in expected.items():
        value = value.numpy()
        if value.dtype == object:
            assert outputs[key] == [v.decode() for v in value.ravel()]
        else:
            np.testing.assert_allclose(outputs[key], value, atol=1e-5)


# A language model's requests: a prompt of its words, a chat turn whose
# end token is in the prompt, and an empty prompt.
PROMPTS = (
    "the capital of france is",
    "<|im_start|>user\nthe sky is<|im_end|>\n<|im_start|>assistant\n",
    "",
)


def _takes_prompts(serving):
    return serving.image_size is None


def _request(serving, image_bytes):
    """The default signature's inputs for the images, whatever the family
    asks for: a question, one text, or candidate texts; a language
    model's prompts instead of the images."""
    if _takes_prompts(serving):
        return {"prompts": list(PROMPTS[: len(image_bytes)])}
    options = _options(serving, len(image_bytes))
    return serving.request(image_bytes, **options)


def _options(serving, count):
    """The `request` options the family needs for `count` images: none,
    a question, or texts (one per image, or candidates)."""
    texts = ("the red circle", "what colour is it", "blue")[:count]
    attempts = [{}, {"question": "what shape is it"}, {"texts": texts}]
    for options in attempts:
        try:
            serving.request([b"image"] * count, **options)
        except RequestError:
            continue
        return options
    raise AssertionError(f"{type(serving).__name__} takes no request")


# The contract of export/README.md, held for every family's SavedModel
# signatures and ONNX graphs: bad requests are refused naming the input.
_LOADED = {}


def _saved_model(family, tmp_path_factory):
    if family not in _LOADED:
        _, written = _exported(family, tmp_path_factory)
        _LOADED[family] = tf.saved_model.load(written["saved_model"])
    return _LOADED[family]


def _bad_requests(serving, inputs, onnx):
    """`(label, inputs, message pattern)` of each bad request made from
    the good `inputs` (batch 2): an empty batch, a wrong shape, ids out
    of range, text that is not UTF-8, bytes that are not an image."""
    limits = serving.id_limits()
    cases = []
    for key, value in inputs.items():

        def case(label, bad, message, key=key):
            cases.append((f"{key} {label}", {**inputs, key: bad}, message))

        if value.ndim:
            message = (
                f"{key}_is_an_empty_batch"
                if onnx
                else f"{key} is an empty batch"
            )
            case("empty", value[:0], message)
        if value.dtype == object and key == "image_bytes":
            bad = value.copy()
            bad[1] = b"GIF7 is no image"
            case(
                "not an image",
                bad,
                r"image_bytes\[1\] is not a JPEG, "
                r"PNG, GIF, BMP or WebP image \(16 bytes\)",
            )
        elif value.dtype == object:
            bad = value.copy()
            bad[1] = "café".encode("latin-1")
            case("not UTF-8", bad, rf"{key}\[1\] is not UTF-8 text")
        elif value.ndim > 1:
            shape = list(value.shape)
            shape[1] += 1
            sizes = ", ".join(str(size) for size in value.shape[1:])
            message = (
                f"Got invalid dimensions for input: {key} "
                if onnx
                else rf"{key} must have shape \(batch, {sizes}\)"
            )
            case("wrong shape", np.zeros(shape, value.dtype), message)
        if key in limits:
            limit = limits[key]
            for wrong in (limit, -1):
                bad = value.copy()
                bad.reshape(-1)[-1] = wrong
                message = (
                    f"{key}_outside_0_{limit}"
                    if onnx
                    else rf"{key} must hold ids in \[0, {limit}\); "
                    rf"received\] \[{wrong}\]"
                )
                case(f"id {wrong}", bad, message)
    return cases


def _tensors(inputs):
    return {
        key: tf.constant(list(value), tf.string)
        if value.dtype == object
        else tf.constant(value)
        for key, value in inputs.items()
    }


@pytest.mark.parametrize("family", tiny.FAMILIES)
def test_saved_model_refuses_bad_requests_naming_the_input(
    family, tmp_path_factory
):
    model, _ = _exported(family, tmp_path_factory)
    serving = model.serving()
    loaded = _saved_model(family, tmp_path_factory)
    examples = serving.examples(2, seed=7)
    for name in serving.functions():
        function = loaded.signatures[name]
        cases = _bad_requests(serving, examples[name], onnx=False)
        assert cases, name
        for label, inputs, message in cases:
            with pytest.raises(tf.errors.InvalidArgumentError) as error:
                function(**_tensors(inputs))
            assert re.search(message, error.value.message), (name, label)
        # Refusing leaves the model serving.
        assert function(**_tensors(examples[name]))


@pytest.mark.parametrize("family", tiny.FAMILIES)
def test_onnx_refuses_bad_requests_naming_the_input(family, tmp_path_factory):
    import onnxruntime

    model, written = _exported(family, tmp_path_factory)
    serving = model.serving()
    examples = serving.examples(2, seed=7)
    for name in serving.onnx_functions():
        session = onnxruntime.InferenceSession(
            os.path.join(written["onnx"], f"{name}.onnx"),
            providers=["CPUExecutionProvider"],
        )
        cases = _bad_requests(serving, examples[name], onnx=True)
        assert cases, name
        for label, inputs, message in cases:
            with pytest.raises(Exception) as error:
                session.run(None, inputs)
            assert re.search(message, str(error.value)), (name, label)
        assert session.run(None, examples[name])


@pytest.mark.parametrize("family", tiny.FAMILIES)
def test_onnx_consumer_answers_as_the_saved_model_without_mmkeras(
    family, tmp_path, tmp_path_factory
):
    """run_onnx.py, with onnxruntime, numpy and Pillow only, tokenizes
    the text and names the class (or decodes the answer to each prompt)
    as the default signature does."""
    model, written = _exported(family, tmp_path_factory)
    serving = model.serving()
    # The copy of run_onnx.py that ships in the folder.
    command = [
        sys.executable,
        os.path.join(written["onnx"], "run_onnx.py"),
        written["onnx"],
    ]
    if _takes_prompts(serving):
        _consumer_answers_prompts(serving, command, tmp_path, tmp_path_factory)
        return
    paths = []
    for seed in range(2):
        paths.append(tmp_path / f"scene{seed}.png")
        # The model's size: Pillow and TensorFlow decode the same pixels.
        paths[-1].write_bytes(_png(*serving.image_size, seed=seed))
    options = _options(serving, len(paths))
    command += [f"--image={path}" for path in paths]
    if "question" in options:
        command.append(f"--question={options['question']}")
    command += [f"--text={text}" for text in options.get("texts", ())]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=_without(tmp_path, "mmkeras", "tensorflow", "keras"),
    )
    assert result.returncode == 0, result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    inputs = serving.request([p.read_bytes() for p in paths], **options)
    function = _saved_model(family, tmp_path_factory).signatures[
        serving.default_signature
    ]
    expected = function(
        **_tensors({k: np.array(v, object) for k, v in inputs.items()})
    )
    for i, answer in enumerate(answers):
        assert answer.pop("image") == str(paths[i])
        assert set(answer) == set(expected)
        for key, value in expected.items():
            value = value.numpy()[i]
            if isinstance(value, bytes):
                assert answer[key] == value.decode()
            else:
                np.testing.assert_allclose(answer[key], value, atol=1e-4)


def _consumer_answers_prompts(serving, command, tmp_path, tmp_path_factory):
    """run_onnx.py --prompt: BPE in Python, the ONNX graphs' greedy loop
    and the answers of the SavedModel's `generate`."""
    command += [f"--prompt={prompt}" for prompt in PROMPTS]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=_without(tmp_path, "mmkeras", "tensorflow", "keras"),
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["prompt"] for line in lines] == list(PROMPTS)
    function = _saved_model("causal_lm", tmp_path_factory).signatures[
        "generate"
    ]
    expected = function(prompts=tf.constant(PROMPTS))["answers"].numpy()
    assert [line["answers"] for line in lines] == [
        answer.decode() for answer in expected
    ]
    # A random tiny model's answers are not empty.
    assert all(lines[i]["answers"] for i in range(len(PROMPTS)))


def test_the_language_model_answers_as_generate(tmp_path_factory):
    """The SavedModel's `generate`: the answers of `CausalLM.generate` to
    a batch (an empty prompt starts from the end-of-text token, a chat
    prompt holds an end token); a prompt longer than the export's
    `max_prompt_length` is refused naming it, one of that length is
    answered."""
    model, _ = _exported("causal_lm", tmp_path_factory)
    serving = model.serving()
    generate = _saved_model("causal_lm", tmp_path_factory).signatures[
        "generate"
    ]
    answers = generate(prompts=tf.constant(PROMPTS))["answers"].numpy()
    expected = model.generate(
        list(PROMPTS), max_new_tokens=serving.max_new_tokens
    )
    assert [answer.decode() for answer in answers] == expected
    limit = serving.max_prompt_length
    # Every digit is a token of its own.
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match=rf"prompts\[1\] has {limit + 1} tokens, more than the {limit} "
        "this model takes; shorten it, or export with a larger "
        "max_prompt_length",
    ):
        generate(prompts=tf.constant(["the sky", "7" * (limit + 1)]))
    full = generate(prompts=tf.constant(["7" * limit]))["answers"]
    assert full.numpy()[0].decode() == model.generate(
        "7" * limit, max_new_tokens=serving.max_new_tokens
    )


def test_the_vision_language_model_chats_as_chat(tmp_path, tmp_path_factory):
    """The SavedModel's `chat`: image bytes and bare questions in, the
    answers of `VisionLanguageModel.chat` with the image before the
    question; an empty question, one holding the placeholder and one
    too long for `max_prompt_length` are refused naming them."""
    model, written = _exported("vision_language", tmp_path_factory)
    serving = model.serving()
    chat = _saved_model("vision_language", tmp_path_factory).signatures["chat"]
    images = [_png(40, 30, seed=1), _png(16, 50, seed=2)]
    questions = ["the sky is", "paris"]
    answers = chat(
        image_bytes=tf.constant(images), prompts=tf.constant(questions)
    )["answers"].numpy()
    expected = model.generate(
        images,
        [serving.chat_prompt(q) for q in questions],
        max_new_tokens=serving.max_new_tokens,
    )
    assert [answer.decode() for answer in answers] == expected
    assert expected[0] == model.chat(
        images[0], "<image>\nthe sky is", max_new_tokens=64
    )
    # run_onnx.py needs the question, and refuses what chat refuses.
    photo = tmp_path / "photo.png"
    photo.write_bytes(images[0])
    command = [
        sys.executable,
        os.path.join(written["onnx"], "run_onnx.py"),
        written["onnx"],
        f"--image={photo}",
    ]
    for extra, code, message in [
        ([], 2, "this model needs --question"),
        (["--question=<image> hi"], 1, "error: message 0 is empty or holds"),
    ]:
        result = subprocess.run(command + extra, capture_output=True, text=True)
        assert result.returncode == code, result.stderr
        assert message in result.stderr
    long = "7" * serving.max_prompt_length
    for bad, message in [
        (" \n", r"prompts\[1\] is empty: send the question about the image"),
        ("<image> what", r"prompts\[1\] holds <image>: send the question"),
        (long, r"prompts\[1\] has \d+ tokens, more than the 64 this model"),
    ]:
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            chat(
                image_bytes=tf.constant(images),
                prompts=tf.constant(["paris", bad]),
            )


@pytest.mark.parametrize("family", tiny.FAMILIES)
def test_artifacts_are_readable_by_other_users(family, tmp_path_factory):
    # Exported under umask 022: TF Serving running as another user reads.
    _, written = _exported(family, tmp_path_factory)
    for path in written.values():
        for folder, _, files in os.walk(path):
            assert stat.S_IMODE(os.stat(folder).st_mode) == 0o755, folder
            for name in files:
                mode = os.stat(os.path.join(folder, name)).st_mode
                assert stat.S_IMODE(mode) == 0o644, (folder, name)


@pytest.mark.parametrize("family", tiny.FAMILIES)
def test_export_reports_every_slow_step_with_its_time(family, tmp_path_factory):
    model, _ = _exported(family, tmp_path_factory)
    serving = model.serving()
    lines = _PROGRESS[family]
    steps = [
        f"saved_model: tracing signature {n!r}" for n in serving.functions()
    ]
    steps += ["saved_model: writing the SavedModel"]
    steps += [f"onnx: converting graph {n!r}" for n in serving.onnx_functions()]
    steps += [
        "saved_model, saved_model_xla: verifying in a new process",
        "onnx: verifying in a new process",
    ]
    for step in steps:
        assert f"{step}..." in lines, step
        assert any(
            re.fullmatch(rf"{re.escape(step)}: \d+\.\d s", line)
            for line in lines
        ), step


@pytest.mark.parametrize("family", tiny.FAMILIES)
def test_each_version_says_how_to_load_it(family, tmp_path_factory):
    from mmkeras.export.saved_model import custom_ops

    model, written = _exported(family, tmp_path_factory)
    serving = model.serving()
    with open(os.path.join(written["saved_model"], "README.md")) as file:
        readme = file.read()
    for name in serving.functions():
        assert f"- `{name}(" in readme
    ops = custom_ops(written["saved_model"])
    # Tokenizing signatures need tf-text's ops, registered by its import.
    assert bool(ops) == ("import tensorflow_text" in readme)
    assert bool(ops) == any(
        spec.dtype == tf.string and spec.name != "image_bytes"
        for function in serving.functions().values()
        for spec in function.input_signature
    )
    for op in ops:
        assert op in readme and not hasattr(tf.raw_ops, op)
    with open(os.path.join(written["onnx"], "README.md")) as file:
        assert "run_onnx.py" in file.read()


# `mmkeras predict` (`mmkeras.models.serving.predict`) on every family.


def _image_files(folder):
    paths = []
    for seed in range(2):
        paths.append(str(folder / f"scene{seed}.png"))
        with open(paths[-1], "wb") as file:
            file.write(_png(30, 20, seed=seed))
    return paths


@pytest.mark.parametrize("family", tiny.FAMILIES)
def test_predict_runs_the_default_signature_on_image_files(
    family, tmp_path, tmp_path_factory
):
    model, _ = _exported(family, tmp_path_factory)
    serving = model.serving()
    paths = _image_files(tmp_path)
    if _takes_prompts(serving):
        # `mmkeras predict` takes images: a language model generates.
        with pytest.raises(
            RequestError,
            match=r"^a CausalLM continues text prompts and takes no images: "
            r"run `mmkeras generate MODEL --prompt",
        ):
            serving_lib.predict(model, paths)
        return
    options = _options(serving, len(paths))
    results = serving_lib.predict(model, paths, **options)
    inputs = serving.request(
        [open(path, "rb").read() for path in paths], **options
    )
    function = _saved_model(family, tmp_path_factory).signatures[
        serving.default_signature
    ]
    expected = function(
        **_tensors({k: np.array(v, object) for k, v in inputs.items()})
    )
    for i, result in enumerate(results):
        assert result.pop("image") == paths[i]
        assert set(result) == set(expected)
        for key, value in expected.items():
            value = value.numpy()[i]
            if isinstance(value, bytes):
                assert result[key] == value.decode()
            else:
                np.testing.assert_allclose(result[key], value, atol=1e-5)


@pytest.mark.parametrize("family", tiny.FAMILIES)
def test_predict_refuses_what_the_family_cannot_use(
    family, tmp_path, tmp_path_factory
):
    model, _ = _exported(family, tmp_path_factory)
    serving = model.serving()
    paths = _image_files(tmp_path)
    if _takes_prompts(serving):
        for options in [{}, {"question": "what"}, {"texts": ("red",)}]:
            with pytest.raises(RequestError, match="mmkeras generate"):
                serving_lib.predict(model, paths, **options)
            with pytest.raises(RequestError, match="mmkeras generate"):
                serving_lib.predict(model, [], **options)
        return
    needs = _options(serving, len(paths))
    generates = isinstance(serving, GenerativeServing)
    unused = {"question": "what", "texts": ("red", "blue"), "sampler": "beam"}
    for name, value in unused.items():
        if name in needs or (name == "sampler" and generates):
            continue
        with pytest.raises(RequestError, match=rf"takes no {name} \(--"):
            serving_lib.predict(model, paths, **{**needs, name: value})
    with pytest.raises(RequestError, match="give at least one with --image"):
        serving_lib.predict(model, [], **needs)
    for name, content, message in [
        (
            "notes.txt",
            b"not a picture",
            "is not an image TensorFlow can read .*Unknown image file format",
        ),
        ("empty.png", b"", "is empty: give a JPEG, PNG, GIF, BMP or WebP"),
    ]:
        bad = tmp_path / name
        bad.write_bytes(content)
        with pytest.raises(RequestError, match=f"^{bad} {message}"):
            serving_lib.predict(model, [paths[0], str(bad)], **needs)


@pytest.fixture(scope="module")
def served_vqa(tmp_path_factory):
    model = tiny.model("vqa")
    out_dir = tmp_path_factory.mktemp("served")
    path = mmkeras.export.export(model, out_dir, verify=False, xla=False)
    return tf.saved_model.load(path["saved_model"]).signatures["answer"]


def _answer(served, images, questions):
    return served(
        image_bytes=tf.constant(images), question=tf.constant(questions)
    )


@pytest.mark.parametrize(
    "image, message",
    [
        (b"not an image", r"image_bytes\[1\] is not a JPEG.* \(12 bytes\)"),
        (b"", r"image_bytes\[1\] is not a JPEG.* \(0 bytes\)"),
        # A PNG header with its body cut: the decoder's own error.
        (_png(20, 20)[:40], "Invalid PNG"),
    ],
    ids=["corrupt", "empty", "truncated"],
)
def test_bad_image_bytes_are_an_invalid_argument(served_vqa, image, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        _answer(served_vqa, [_png(8, 8), image], ["what shape"] * 2)
    # The model serves the next request.
    assert _answer(served_vqa, [_png(8, 8)], ["what"])["answer"].shape == 1


def test_batches_of_different_lengths_are_an_invalid_argument(served_vqa):
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match="image_bytes and question must hold the same number",
    ):
        _answer(served_vqa, [_png(8, 8)] * 2, ["what"])


@pytest.mark.parametrize(
    "size", [(1, 1), (4000, 4000)], ids=["1x1", "4000x4000"]
)
def test_any_image_size_gets_an_answer(served_vqa, size):
    outputs = _answer(served_vqa, [_png(*size)], ["what shape"])
    assert outputs["answer"].numpy()[0].decode() in tiny.ANSWERS
    assert 0.0 < float(outputs["score"][0]) <= 1.0


def test_long_and_empty_questions_are_truncated_or_padded(served_vqa):
    long_question = "what " * 2_000  # 10,000 characters
    outputs = _answer(served_vqa, [_png(8, 8)] * 3, [long_question, "", "red"])
    assert outputs["answer"].shape == 3
    assert np.all(np.isfinite(outputs["score"].numpy()))


def test_tensor_signatures_only_without_a_tokenizer(tmp_path):
    model = tiny.model("fusion", strings=False)
    written = run_export_test(model, tmp_path, "saved_model", xla=False)
    assert set(written) == {"saved_model"}
    loaded = tf.saved_model.load(written["saved_model"])
    assert set(loaded.signatures) == {"logits", "serving_default"}


def test_a_failed_verification_leaves_no_version(tmp_path, monkeypatch):
    model = tiny.model("fusion", strings=False)
    monkeypatch.setattr(verify, "TOLERANCE", -1.0)
    with pytest.raises(ExportError, match="differs from the Keras model"):
        mmkeras.export.export(model, tmp_path, format="all", xla=False)
    # Nothing is left of the artifact that failed or of the others.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["onnx", "saved_model"]
    assert os.listdir(tmp_path / "saved_model") == []
    assert os.listdir(tmp_path / "onnx") == []


def test_versions_count_up(tmp_path):
    model = tiny.model("fusion", strings=False)
    paths = [
        mmkeras.export.export(model, tmp_path, verify=False, xla=False)
        for _ in range(2)
    ]
    assert [p["saved_model"] for p in paths] == [
        str(tmp_path / "saved_model" / "1"),
        str(tmp_path / "saved_model" / "2"),
    ]


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="format must be one of"):
        mmkeras.export.export(tiny.model("fusion"), tmp_path, format="tflite")
    unbuilt = mmkeras.models.FusionClassifier(
        mmkeras.encoders.ConvImageEncoder.from_preset("tiny"),
        mmkeras.encoders.TransformerTextEncoder.from_preset(
            "tiny", vocabulary_size=20
        ),
        num_classes=2,
    )
    with pytest.raises(ExportError, match="not built"):
        mmkeras.export.export(unbuilt, tmp_path)
    import keras

    other = keras.Sequential([keras.layers.Dense(2)])
    other(np.zeros((1, 3)))
    with pytest.raises(
        ExportError, match=r"exports task models \(.*FusionClassifier.*\)"
    ):
        mmkeras.export.export(other, tmp_path)
