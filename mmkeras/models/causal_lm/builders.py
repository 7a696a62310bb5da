"""Small causal LMs: the tiny seeded model of the tests and the zoo's
`test_causal_lm.tiny` entry."""

import numpy as np

from mmkeras.models.causal_lm.causal_lm import CausalLM
from mmkeras.models.causal_lm.causal_lm_backbone import CausalLMBackbone
from mmkeras.models.causal_lm.causal_lm_preprocessor import CausalLMPreprocessor
from mmkeras.text import BytePairTokenizer

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# ChatML, as SmolLM2 and many instruction-tuned models write turns.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + "
    "'<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
TINY_WORDS = ["the", "capital", "of", "france", "is", "paris", "sky", "blue"]
TINY_LENGTH = 16


def word_tokenizer(words, **kwargs):
    """A byte-level BPE tokenizer whose merges spell each of `words`
    (with and without a leading space) as one token, plus the ChatML
    special tokens: the vocabulary of tiny test models."""
    alphabet = BytePairTokenizer.byte_alphabet()
    space = alphabet[ord(" ")]
    vocabulary = SPECIAL_TOKENS + alphabet
    merges = []
    for word in [s for w in words for s in (w, space + w)]:
        merged = word[0]
        for character in word[1:]:
            rule = f"{merged} {character}"
            merged += character
            if rule not in merges:
                merges.append(rule)
            if merged not in vocabulary:
                vocabulary.append(merged)
    return BytePairTokenizer(
        vocabulary, merges, special_tokens=SPECIAL_TOKENS, **kwargs
    )


def tiny(strings=True, **kwargs):
    """A built, untrained tiny `CausalLM` (`test_causal_lm.tiny`): two
    grouped-query blocks of width 16 over a 300-token BPE vocabulary.
    `strings=False` leaves out the tokenizer. Seed first
    (`mmkeras.testing.tiny_models.model` does)."""
    tokenizer = word_tokenizer(TINY_WORDS)
    backbone = CausalLMBackbone(
        vocabulary_size=tokenizer.vocabulary_size(),
        num_layers=2,
        hidden_dim=16,
        num_heads=4,
        num_key_value_heads=2,
        intermediate_dim=32,
        rope_max_wavelength=10000.0,
        rope_layout="half",
        layer_norm_epsilon=1e-5,
        tie_word_embeddings=True,
        max_sequence_length=128,
    )
    preprocessor = CausalLMPreprocessor(
        tokenizer if strings else None,
        sequence_length=TINY_LENGTH,
        chat_template=CHAT_TEMPLATE,
    )
    end = tokenizer.token_to_id("<|im_end|>")
    model = CausalLM(backbone, preprocessor, end_token_id=end, **kwargs)
    ids = np.ones((2, TINY_LENGTH), "int32")
    model({"token_ids": ids, "padding_mask": ids > 0})
    return model
