"""The tokenizers of `run_onnx.py`, in Python alone (no TensorFlow, no
mmkeras): `WordPiece` and `BytePair` give the ids of mmkeras'
`WordPieceTokenizer` and `BytePairTokenizer`. Exports copy this file
beside `run_onnx.py`."""

import unicodedata

import numpy as np

# Longer words are unknown, as in tensorflow-text's FastBertTokenizer.
_MAX_BYTES_PER_WORD = 100


class WordPiece:
    """mmkeras' `WordPieceTokenizer` in Python: BERT's normalization,
    whitespace and punctuation splitting, then the longest wordpieces of
    the vocabulary (a word with none is the unknown token)."""

    def __init__(
        self,
        vocabulary,
        sequence_length,
        lowercase,
        add_start_end,
        suffix_indicator,
        unknown_token,
        pad_token_id,
        start_token_id,
        end_token_id,
        **unused,
    ):
        self.ids = {token: i for i, token in enumerate(vocabulary)}
        self.length = sequence_length
        self.lowercase = lowercase
        self.add_start_end = add_start_end
        self.suffix = suffix_indicator
        self.unknown = self.ids[unknown_token]
        self.pad, self.start, self.end = (
            pad_token_id,
            start_token_id,
            end_token_id,
        )

    def __call__(self, texts):
        """int32 ids `(len(texts), sequence_length)`, padded."""
        ids = np.full((len(texts), self.length), self.pad, "int32")
        for row, text in enumerate(texts):
            tokens = [
                i for word in self.words(text) for i in self.wordpieces(word)
            ]
            if self.add_start_end:
                tokens = [self.start, *tokens[: self.length - 2], self.end]
            tokens = tokens[: self.length]
            ids[row, : len(tokens)] = tokens
        return ids

    def words(self, text):
        """Normalized words and punctuation marks, as BERT splits them."""
        characters = []
        for char in text:
            category = unicodedata.category(char)
            if char in "\t\n\r\x0b\x0c\x85" or category[0] == "Z":
                characters.append(" ")
            elif category[0] == "C" or char == "\ufffd":
                continue
            elif _is_cjk(char):
                characters.append(f" {char} ")
            else:
                characters.append(char)
        text = "".join(characters)
        if self.lowercase:
            text = unicodedata.normalize("NFD", text)
            text = "".join(c for c in text if unicodedata.category(c) != "Mn")
            text = text.lower()
        return "".join(
            f" {c} " if _is_punctuation(c) else c for c in text
        ).split()

    def wordpieces(self, word):
        """The ids of the longest vocabulary pieces that make `word`."""
        if len(word.encode("utf-8")) > _MAX_BYTES_PER_WORD:
            return [self.unknown]
        pieces, start = [], 0
        while start < len(word):
            for end in range(len(word), start, -1):
                piece = word[start:end]
                if start:
                    piece = self.suffix + piece
                if piece in self.ids:
                    pieces.append(self.ids[piece])
                    start = end
                    break
            else:
                return [self.unknown]
        return pieces


class BytePair:
    """mmkeras' `BytePairTokenizer` in Python, for a causal LM's prompts:
    special tokens matched whole (longest first), every digit alone (for
    `pre_tokenizer="smollm"`), GPT-2's pattern on the rest, the UTF-8
    bytes of each word as the byte-level alphabet's tokens, merged by
    rank. Letters and numbers are Unicode categories L and N as Python's
    `unicodedata` knows them (characters newer than it may split apart
    from mmkeras)."""

    def __init__(
        self,
        vocabulary,
        merges,
        special_tokens,
        pre_tokenizer,
        add_start_token,
        start_token_id,
        empty_prompt_token_id,
        max_prompt_length,
        image_placeholder=None,
        image_token_id=None,
        num_image_tokens=1,
        **unused,
    ):
        self.ids = {token: i for i, token in enumerate(vocabulary)}
        # A pair listed twice keeps its last rank, as `tokenizers` does.
        ranks = {}
        for rank, merge in enumerate(merges):
            left, right = merge.split(" ")
            pair = (self.ids[left], self.ids[right])
            ranks[pair] = (rank, self.ids[left + right])
        self.ranks = ranks
        alphabet = _byte_alphabet()
        self.byte_ids = [self.ids.get(char, -1) for char in alphabet]
        decoder = {char: byte for byte, char in enumerate(alphabet)}
        self.token_bytes = [
            bytes(decoder[c] for c in token)
            if all(c in decoder for c in token)
            else token.encode()
            for token in vocabulary
        ]
        self.special = list(special_tokens)
        self.digits_alone = pre_tokenizer == "smollm"
        self.start = start_token_id if add_start_token else None
        self.empty = empty_prompt_token_id
        self.length = max_prompt_length
        # A vision-language model's: the placeholder becomes image ids.
        self.placeholder = image_placeholder
        self.image_ids = [image_token_id] * num_image_tokens
        self.cache = {}

    def __call__(self, text):
        """The ids of one string."""
        if self.placeholder is None:
            return self._ids(text)
        pieces = [self._ids(piece) for piece in text.split(self.placeholder)]
        ids = pieces[0]
        for piece in pieces[1:]:
            ids = [*ids, *self.image_ids, *piece]
        return ids

    def _ids(self, text):
        ids = []
        for word, special in self.words(text):
            if special:
                ids.append(self.ids[word])
            else:
                ids.extend(self.merge(word))
        return ids

    def prompts(self, texts):
        """`{"token_ids", "padding_mask"}` `(len(texts), max_prompt_
        length)`, left-padded, as `CausalLMPreprocessor.generate_
        preprocess` makes them. A longer prompt is a ValueError."""
        token_ids = np.zeros((len(texts), self.length), "int32")
        mask = np.zeros((len(texts), self.length), bool)
        for row, text in enumerate(texts):
            ids = self(text) or [self.empty]
            if self.start is not None:
                ids = [self.start, *ids]
            if len(ids) > self.length:
                raise ValueError(
                    f"prompt {row} has {len(ids)} tokens, more than the "
                    f"{self.length} this model takes; shorten it"
                )
            token_ids[row, self.length - len(ids) :] = ids
            mask[row, self.length - len(ids) :] = True
        return {"token_ids": token_ids, "padding_mask": mask}

    def detokenize(self, ids):
        """Text of `ids`; bytes that are no UTF-8 become U+FFFD."""
        data = b"".join(self.token_bytes[int(i)] for i in ids)
        return data.decode("utf-8", "replace")

    def words(self, text):
        """`(word, is_special)` pairs tiling `text`."""
        start = 0
        while start < len(text):
            found = [
                (text.find(token, start), -len(token), token)
                for token in self.special
            ]
            # The leftmost; of those at one position, the longest.
            at, _, token = min(
                (f for f in found if f[0] >= 0), default=(len(text), 0, None)
            )
            yield from self._split(text[start:at])
            if token is None:
                break
            yield token, True
            start = at + len(token)

    def _split(self, piece):
        if not self.digits_alone:
            yield from ((w, False) for w in _gpt2_words(piece))
            return
        part = []
        for char in piece:
            # tokenizers' Digits: Rust's is_numeric, categories N*.
            if _is_number(char):
                yield from ((w, False) for w in _gpt2_words("".join(part)))
                yield char, False
                part = []
            else:
                part.append(char)
        yield from ((w, False) for w in _gpt2_words("".join(part)))

    def merge(self, word):
        """Token ids of `word`: its bytes' tokens, the pair of lowest
        rank merged everywhere (left to right) until none is left."""
        if word in self.cache:
            return self.cache[word]
        ids = [self.byte_ids[byte] for byte in word.encode()]
        # Bytes without a token are dropped, as in `tokenizers`.
        ids = [i for i in ids if i >= 0]
        while len(ids) > 1:
            pairs = [
                p
                for p in zip(ids[:-1], ids[1:], strict=True)
                if p in self.ranks
            ]
            if not pairs:
                break
            best = min(pairs, key=self.ranks.get)
            merged, i = [], 0
            while i < len(ids):
                if tuple(ids[i : i + 2]) == best:
                    merged.append(self.ranks[best][1])
                    i += 2
                else:
                    merged.append(ids[i])
                    i += 1
            ids = merged
        self.cache[word] = ids
        return ids


# Oniguruma's \s (Unicode White_Space), as the tokenizers library's.
_WHITESPACE = frozenset(
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
)
_CONTRACTIONS = ("s", "t", "re", "ve", "m", "ll", "d")


def _is_letter(char):
    return unicodedata.category(char)[0] == "L"


def _is_number(char):
    return unicodedata.category(char)[0] == "N"


def _is_other(char):
    return not (char in _WHITESPACE or _is_letter(char) or _is_number(char))


def _gpt2_words(text):
    """The words of GPT-2's pattern, scanned by hand (Python's `re` has
    no Unicode classes): a contraction ('s 't 're 've 'm 'll 'd), or an
    optional space and a run of letters, of numbers or of other
    characters, or whitespace (a run before a non-space leaves it its
    last character)."""
    words, i, n = [], 0, len(text)
    while i < n:
        char = text[i]
        if char == "'":
            suffix = next(
                (s for s in _CONTRACTIONS if text.startswith(s, i + 1)), None
            )
            if suffix:
                words.append(text[i : i + 1 + len(suffix)])
                i += 1 + len(suffix)
                continue
        j = i + 1 if char == " " and i + 1 < n else i
        end = None
        for kind in (_is_letter, _is_number, _is_other):
            if kind(text[j]):
                end = j
                while end < n and kind(text[end]):
                    end += 1
                break
        if end is None:
            # Whitespace: a run before a non-space leaves it its last char.
            end = i
            while end < n and text[end] in _WHITESPACE:
                end += 1
            if end < n and end - i > 1:
                end -= 1
        words.append(text[i:end])
        i = end
    return words


def _byte_alphabet():
    """GPT-2's byte -> printable character map, 256 chars."""
    printable = {
        *range(ord("!"), ord("~") + 1),
        *range(ord("\xa1"), ord("\xac") + 1),
        *range(ord("\xae"), ord("\xff") + 1),
    }
    chars, extra = [], 0
    for byte in range(256):
        if byte in printable:
            chars.append(chr(byte))
        else:
            chars.append(chr(256 + extra))
            extra += 1
    return chars


def _is_punctuation(char):
    """BERT's punctuation: ASCII symbols and Unicode category P."""
    code = ord(char)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96:
        return True
    return 123 <= code <= 126 or unicodedata.category(char)[0] == "P"


def _is_cjk(char):
    code = ord(char)
    return any(
        low <= code <= high
        for low, high in (
            (0x4E00, 0x9FFF),
            (0x3400, 0x4DBF),
            (0x20000, 0x2A6DF),
            (0x2A700, 0x2B73F),
            (0x2B740, 0x2B81F),
            (0x2B820, 0x2CEAF),
            (0xF900, 0xFAFF),
            (0x2F800, 0x2FA1F),
        )
    )
