"""Writes bpe_corpus.jsonl: 2,400 varied strings for the BytePairTokenizer
parity test (one JSON string per line). Deterministic: re-running it gives
the same file, which the test checks.

    python tests/text/data/make_bpe_corpus.py
"""

import json
import pathlib
import random

PATH = pathlib.Path(__file__).with_name("bpe_corpus.jsonl")
SIZE = 2400
SPECIAL = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<file_sep>"]

SCRIPTS = [
    "The quick brown fox jumps over the lazy dog",
    "Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich",
    "Voix ambiguë d'un cœur qui, au zéphyr, préfère les jattes de kiwis",
    "El pingüino Wenceslao hizo kilómetros bajo exhaustiva lluvia",
    "Γαζέες καὶ μυρτιὲς δὲν θὰ βρῶ πιὰ στὸ χρυσαφὶ ξέφωτο",
    "Съешь же ещё этих мягких французских булок, да выпей чаю",
    "نص حكيم له سر قاطع وذو شأن عظيم مكتوب على ثوب أخضر",
    "דג סקרן שט בים מאוכזב ולפתע מצא חברה",
    "ऋषियों को सताने वाले दुष्ट राक्षसों के राजा रावण का सर्वनाश",
    "আমি বাংলায় গান গাই",
    "เป็นมนุษย์สุดประเสริฐเลิศคุณค่า",
    "我能吞下玻璃而不伤身体。你好，世界！",
    "いろはにほへと ちりぬるを わかよたれそ つねならむ",
    "カタカナとひらがなと漢字",
    "다람쥐 헌 쳇바퀴에 타고파",
    "ქართული ენა",
    "Հայերեն լեզու",
    "ሰማይ አይታረስ ንጉሥ አይከሰስ",
    "யாமறிந்த மொழிகளிலே தமிழ்மொழி போல்",
    "Tiếng Việt có dấu: Xin chào thế giới",
    "e\u0301cole cafe\u0301 n\u0303 a\u030a",
    "İstanbul ışık ĞÜŞÖÇ",
    "Ǆemal ǅ ǆ ﬁne ﬂow Å Ω K",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕄𝕒𝕥𝕙 𝒜𝒷𝒸",
    "ᚠᛇᚻ᛫ᛒᛦᚦ ᓀᐦᐃᔭᐍᐏᐣ ꦲꦏ꧀ꦱꦫ",
]
EMOJI = [
    "🙂", "😂😂😂", "👍🏽", "👩‍💻", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇫🇷", "🇯🇵🇺🇸",
    "1️⃣", "#️⃣", "🏴󠁧󠁢󠁥󠁮󠁧󠁿", "❤️", "☕", "🧑🏿‍🚀", "🫠", "✨🎉",
]  # fmt: skip
CODE = [
    "def f(x):\n    return x ** 2\n",
    "for (int i = 0; i < n; ++i) {\n\tsum += a[i];\n}",
    'const s = `${name}`; console.log("hi");',
    '{"key": [1, 2.5, null, true], "k2": {"a": "b"}}',
    "<div class=\"x\">&nbsp;&lt;tag&gt;</div>",
    "SELECT * FROM users WHERE id = 42;",
    "if [ -f ~/.bashrc ]; then source ~/.bashrc; fi",
    r"re.compile(r'\s+(?!\S)|\d{3}-\d{4}')",
    "x += 1  # comment\r\n",
    "fn main() -> Result<(), Box<dyn Error>> { Ok(()) }",
    "    \n\n        indented\n\t\t\tdeep",
    "a_b__c___d ==> !== ... ?? ::",
]
NUMBERS = [
    "0", "42", "3.14159", "1,000,000", "2024-06-01", "+1 (555) 123-4567",
    "١٢٣٤", "१२३", "１２３", "²³", "½ ¾", "Ⅻ ⅻ", "৬", "๕๖", "0x1F", "1e-9",
]  # fmt: skip
CONTRACTIONS = [
    "it's", "don't", "we're", "they've", "I'm", "you'll", "he'd",
    "IT'S", "DON'T", "WE'RE", "THEY'VE", "I'M", "YOU'LL", "HE'D",
    "it’s", "'s", "''s", "' s", "rock'n'roll", "'tis", "y'all'd've",
]  # fmt: skip
SPACES = [
    " ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n ", "\t \t", "\u00a0",
    "\u3000", "\u2028", "\u2003\u2003", "\x0b", "\x0c", " \u00a0 ", "\u200b",
]  # fmt: skip
ODD = ["\x00", "\x04", "\x1b[0m", "\ufeff", "\ufffd", "\U0010ffff", "a\x7fb"]


def _fragment(rng):
    kind = rng.random()
    if kind < 0.3:
        words = rng.choice(SCRIPTS).split(" ")
        start = rng.randrange(len(words))
        return " ".join(words[start : start + rng.randint(1, 4)])
    pool = rng.choice(
        [EMOJI, CODE, NUMBERS, CONTRACTIONS, SPECIAL, ODD, SPACES]
    )
    return rng.choice(pool)


def _mixed(rng):
    parts = []
    for _ in range(rng.randint(1, 6)):
        parts.append(_fragment(rng))
        parts.append(rng.choice(SPACES + ["", "", " ", " ", ",", "."]))
    text = "".join(parts)
    if rng.random() < 0.2:
        text = rng.choice(SPACES) + text
    return text


def _random_codepoints(rng):
    chars = []
    for _ in range(rng.randint(1, 12)):
        point = rng.choice([0x7F, 0x800, 0x3100, 0xFFFF, 0x2FFFF])
        point = rng.randrange(0x20, point)
        if 0xD800 <= point < 0xE000:  # surrogates are not text
            point = 0x41
        chars.append(chr(point))
        if rng.random() < 0.3:
            chars.append(rng.choice(SPACES))
    return "".join(chars)


def corpus():
    """The fixed hand-picked strings, then seeded random ones."""
    rng = random.Random(9)
    texts = [""] + SCRIPTS + EMOJI + CODE + NUMBERS + CONTRACTIONS + SPACES
    while len(texts) < SIZE:
        maker = _random_codepoints if rng.random() < 0.2 else _mixed
        texts.append(maker(rng))
    return texts


def main():
    with PATH.open("w", encoding="utf-8") as file:
        for text in corpus():
            file.write(json.dumps(text) + "\n")


if __name__ == "__main__":
    main()
