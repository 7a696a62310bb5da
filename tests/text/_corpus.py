"""A small generated corpus and vocabulary shared by the text tests."""

import random

WORDS = (
    "the a an cat dog bird sat ran flew over under quickly slowly "
    "tokenizer tokenization unaffable affable playing played player "
    "café naïve résumé élan Zürich Ünïcödé hello world HELLO World "
    "2024 3.14 1,000 42 don't can't it's e-mail user@example.com "
    'αβγ (parens) [brackets] {braces} "quotes" ok! why? yes; no: #tag $5'
).split()


def corpus(size=400, seed=0):
    rng = random.Random(seed)
    return [
        " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12)))
        for _ in range(size)
    ]
