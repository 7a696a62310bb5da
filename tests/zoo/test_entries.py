"""Every catalogue entry loads, matches its golden outputs, round-trips
and (task models) exports with verification."""

import json
import os

import keras
import numpy as np
import pytest

import mmkeras
from mmkeras.export import verify
from mmkeras.models.dual_encoder import retrieval_index
from mmkeras.models.task import Task
from mmkeras.testing import run_export_test
from mmkeras.testing import tiny_models
from mmkeras.zoo.entries import model_cards_page

ENTRIES = mmkeras.zoo.list_models()
TASK_ENTRIES = [
    name
    for name in ENTRIES
    if mmkeras.zoo.info(name)["family"] in Task.families
]


@pytest.mark.parametrize("family", sorted(Task.families))
def test_every_family_has_a_tiny_test_entry(family):
    tiny = [
        name
        for name in ENTRIES
        if name.startswith("test_")
        and name.endswith(".tiny")
        and mmkeras.zoo.info(name)["family"] == family
    ]
    assert tiny, f"add a zoo/test_<family>.tiny entry for {family}"


def test_the_catalogue_has_the_pretrained_and_test_entries():
    assert {
        "efficientnet_lite0.imagenet",
        "minilm_l6.sentence",
        "test_captioner.tiny",
        "test_fusion.tiny",
    } <= set(ENTRIES)


def test_the_docs_model_cards_page_is_the_cards():
    repo = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
    with open(os.path.join(repo, "docs", "model-cards.md")) as page:
        written = page.read()
    expected = model_cards_page(os.path.join(repo, "zoo"))
    assert written == expected, (
        "docs/model-cards.md is stale; `mmkeras zoo cards` rewrites it"
    )
    for name in ENTRIES:
        assert f"## {name} (version" in written


TINY_ENTRIES = [n for n in TASK_ENTRIES if n.startswith("test_")]
# The test_*.tiny entries are the models tests/export/test_export.py
# exports (tiny_models.model, the test below); the others are exported
# here, each once, for the checks below.
# Entries of over 50 MB of files are left out too, and so are the task
# entries built on one (a vision-language model on SmolLM2): exporting
# and verifying a 135M-parameter model (a 98 MB GGUF file) takes minutes
# and gigabytes, and its family's code is the one its tiny entry exports
# (benchmarks/causal_lm_export.py exports SmolLM2; the vision-language
# entry's card gives its `mmkeras export`). Encoders a task requires
# (MiniLM) export with it.
LARGE = 50 * 2**20


def _large(name):
    manifest = mmkeras.zoo.info(name)
    if sum(f["size"] for f in manifest["files"]) >= LARGE:
        return True
    return any(
        _large(required) and required in TASK_ENTRIES
        for required in manifest.get("requires", [])
    )


def _graph(name):
    """What fixes an entry's exported graphs. Entries of one family whose
    manifests describe the same architecture parameters are built by the
    same builder from the same layers, at other sizes or with other
    weights, so one of them is exported; each still loads, round-trips
    and matches its golden outputs above."""
    manifest = mmkeras.zoo.info(name)
    if "architecture" not in manifest:
        return name
    return manifest["family"], tuple(sorted(manifest["architecture"]))


def _ships_index(name):
    files = mmkeras.zoo.info(name)["files"]
    return any(f["name"] == retrieval_index.PRESET_FILE for f in files)


# The last of a graph's entries is exported: one that ships a retrieval
# index, whose `retrieve` signature is verified too, else the first name.
EXPORTED = sorted(
    {
        _graph(name): name
        for name in sorted(reversed(TASK_ENTRIES), key=_ships_index)
        if name not in TINY_ENTRIES and not _large(name)
    }.values()
)
# Models loaded by `entry`, kept for `exported` (which then need not
# load them again).
_LOADED = {}


@pytest.fixture(scope="module")
def zoo_cache(tmp_path_factory):
    """Converted entries cache into MMKERAS_CACHE: one for the module
    (an entry that requires SmolLM2 reuses its conversion), not the
    user's."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module", params=ENTRIES)
def entry(request, zoo_cache):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MMKERAS_CACHE", str(zoo_cache))
        files = mmkeras.zoo.download(request.param)
        model = mmkeras.zoo.load(request.param)
        if request.param in EXPORTED:
            _LOADED[request.param] = model
        yield request.param, model, files


def test_loads_and_matches_its_golden_outputs(entry):
    name, model, files = entry
    manifest = mmkeras.zoo.info(name)
    assert type(model).__name__ == manifest["family"]
    golden = files["golden.npz"]
    difference = mmkeras.zoo.golden_difference(model, golden)
    assert difference <= mmkeras.zoo.golden_tolerance(golden)


def test_a_shipped_index_gives_its_golden_hits(entry):
    """An entry that ships a retrieval index records the hits of its
    golden inputs over it; one that ships none records none."""
    name, model, files = entry
    with np.load(files["golden.npz"]) as data:
        golden = dict(data)
    recorded = {k: v for k, v in golden.items() if k.startswith("retrieval/")}
    if retrieval_index.PRESET_FILE not in files:
        assert not recorded
        return
    assert set(recorded) == {"retrieval/keys", "retrieval/scores"}, (
        f"{name} ships {retrieval_index.PRESET_FILE} but its golden.npz "
        "records no hits over it (retrieval_index.golden_arrays)"
    )
    index = retrieval_index.RetrievalIndex.from_preset(name, model)
    inputs = {
        key.split("/", 1)[1]: value
        for key, value in golden.items()
        if key.startswith("input/")
    }
    k = recorded["retrieval/keys"].shape[1]
    keys, scores = retrieval_index.golden_arrays(index, inputs, k).values()
    assert keys.tolist() == recorded["retrieval/keys"].tolist()
    np.testing.assert_allclose(scores, recorded["retrieval/scores"], atol=1e-5)


def test_round_trips(entry, tmp_path):
    name, model, files = entry
    if isinstance(model, Task):
        if _large(name):
            pytest.skip(
                "saving and loading 540 MB again; the family's tiny entry "
                "round-trips the same code"
            )
        path = str(tmp_path / "model.keras")
        model.save(path)
        copy = keras.saving.load_model(path)
    else:
        copy = type(model).from_config(model.get_config())
        with np.load(files["golden.npz"]) as data:
            copy(data["input/x"])
        copy.set_weights(model.get_weights())
    golden = files["golden.npz"]
    difference = mmkeras.zoo.golden_difference(copy, golden)
    assert difference <= mmkeras.zoo.golden_tolerance(golden)


@pytest.mark.parametrize("name", TINY_ENTRIES)
def test_a_tiny_entry_is_its_family_s_tiny_model(name):
    family = name[len("test_") : -len(".tiny")]
    golden = mmkeras.zoo.download(name)["golden.npz"]
    model = tiny_models.model(family)
    difference = mmkeras.zoo.golden_difference(model, golden)
    assert difference <= mmkeras.zoo.golden_tolerance(golden)


@pytest.fixture(scope="module", params=EXPORTED)
def exported(request, tmp_path_factory):
    """The entry's model exported to SavedModel and ONNX, verified. What
    tests/export checks for every family of the same code is left out:
    the XLA variant, and verifying at two batch sizes (one here)."""
    name = request.param
    model = _LOADED.pop(name, None) or mmkeras.zoo.load(name)
    # An entry's shipped index adds the retrieve signature.
    options = {}
    if _ships_index(name):
        options["index"] = retrieval_index.RetrievalIndex.from_preset(
            name, model
        )
    out_dir = tmp_path_factory.mktemp("export")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(verify, "BATCH_SIZES", (2,))
        written = run_export_test(model, out_dir, "all", xla=False, **options)
    return model, written, options


def test_exports_verified_on_every_signature(exported):
    model, written, options = exported
    assert set(written) == {"saved_model", "onnx"}
    serving = model.serving(**options)
    checked = {
        kind: {key.split("/")[0] for key in _report(written[kind])}
        for kind in written
    }
    # The string signatures too, with the entry's own vocabulary.
    assert checked["saved_model"] == set(serving.functions())
    assert checked["onnx"] and checked["onnx"] <= set(serving.examples(1, 0))


def _report(path):
    with open(os.path.join(path, "verify.json")) as file:
        return json.load(file)


def test_efficientnet_recognises_the_golden_photos():
    metrics = mmkeras.zoo.info("efficientnet_lite0.imagenet")["metrics"]
    assert metrics["golden_top1_chelsea"] == 285  # Egyptian cat
    assert metrics["golden_top1_coffee"] == 967  # espresso


def test_minilm_embedding_matches_the_reference(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("MMKERAS_CACHE", str(tmp_path))
    files = mmkeras.zoo.download("minilm_l6.sentence")
    tokenizer = mmkeras.text.WordPieceTokenizer(
        files["vocab.txt"], sequence_length=16, add_start_end=True
    )
    token_ids = tokenizer(["a red circle on a white background"])
    model = mmkeras.zoo.load("minilm_l6.sentence")
    pooled = np.asarray(model(token_ids)["pooled"])[0]
    np.testing.assert_allclose(
        pooled[:3] / np.linalg.norm(pooled),
        [0.000627, 0.034823, -0.149765],
        atol=1e-5,
    )
    # The converted weights are a derived file of the cache: one changed
    # byte (which used to load silently, 0.62 off) is converted again.
    converted = tmp_path / "minilm_l6.sentence/derived/1/converted_weights.npz"
    data = bytearray(converted.read_bytes())
    data[len(data) // 2] ^= 0x40
    converted.write_bytes(bytes(data))
    with caplog.at_level("WARNING", logger="mmkeras.zoo"):
        again = mmkeras.zoo.load("minilm_l6.sentence")
    (message,) = caplog.messages
    assert message.startswith(f"{converted} has sha256 ")
    assert message.endswith("; making it again")
    np.testing.assert_array_equal(again(token_ids)["pooled"][0], pooled)


def test_the_pretrained_dual_encoder_starts_from_the_zoo_entries(
    tmp_path, monkeypatch
):
    from mmkeras.models.dual_encoder import builders

    monkeypatch.setenv("MMKERAS_CACHE", str(tmp_path))
    tower = builders.image_tower()
    # The entry's encoder rebuilt for 75 px (its stride-2 padding depends
    # on the image size).
    imagenet = mmkeras.encoders.EfficientNetLite0Encoder(include_top=True)
    imagenet.build((None, 75, 75, 3))
    imagenet.set_weights(
        mmkeras.zoo.load("efficientnet_lite0.imagenet").get_weights()
    )
    pixels = np.random.default_rng(0).random((2, 75, 75, 3), "float32")
    expected = imagenet(pixels)["pooled"]
    actual = tower(pixels)["pooled"]
    np.testing.assert_allclose(actual, expected, atol=1e-4)
    model = builders.pretrained_dual_encoder()
    assert not model.text_encoder.trainable
    minilm = mmkeras.zoo.load("minilm_l6.sentence")
    for a, b in zip(
        model.text_encoder.get_weights(), minilm.get_weights(), strict=True
    ):
        np.testing.assert_array_equal(a, b)
