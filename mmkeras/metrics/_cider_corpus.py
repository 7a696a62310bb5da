"""The documents of a CIDEr-D corpus and its score, vectorised with numpy.

`Cider.result()` rescores the whole corpus after every batch (the idf
changes), so everything that does not depend on the idf is computed once,
when a document is added: n-gram ids and counts, and for each
candidate-reference pair the clipped products `min(h, r) * r` of their
shared n-grams. With idf >= 0, pycocoevalcap's clipped product
`min(h * idf, r * idf) * r * idf` is `min(h, r) * r * idf**2`.
"""

import numpy as np

from mmkeras.metrics import _text

_N = 4
_SIGMA = 6.0


class CiderCorpus:
    def __init__(self):
        self.clear()

    def clear(self):
        self._ids = {}
        self._orders = []
        self._docs = _Ragged()
        self._doc_lengths = []
        self._pairs = _Ragged()
        self._pair_docs = []  # (image, candidate doc, reference doc)
        self._image_grams = []
        self._num_refs = []

    def add(self, candidate, references):
        image = len(self._num_refs)
        candidate_counts = _text.ngram_counts(candidate, _N)
        candidate_doc = self._add_doc(candidate, candidate_counts)
        image_grams = set()
        for reference in references:
            counts = _text.ngram_counts(reference, _N)
            doc = self._add_doc(reference, counts)
            image_grams.update(self._ids[gram] for gram in counts)
            shared = [g for g in counts if g in candidate_counts]
            self._pairs.append(
                [self._ids[g] for g in shared],
                [
                    min(candidate_counts[g], counts[g]) * counts[g]
                    for g in shared
                ],
            )
            self._pair_docs.append((image, candidate_doc, doc))
        self._image_grams.append(np.fromiter(image_grams, dtype="int64"))
        self._num_refs.append(len(references))

    def score(self):
        """The corpus CIDEr-D, 0.0 for an empty corpus."""
        num_images = len(self._num_refs)
        if not num_images:
            return 0.0
        orders = np.asarray(self._orders, dtype="int64")
        df = np.bincount(
            np.concatenate(self._image_grams), minlength=len(orders)
        )
        idf = np.log(float(num_images)) - np.log(np.maximum(1.0, df))
        doc, gram, count = self._docs.flat()
        norms = np.sqrt(
            _per_order(
                doc,
                orders[gram],
                (count * idf[gram]) ** 2,
                len(self._doc_lengths),
            )
        )
        pair, gram, product = self._pairs.flat()
        numerators = _per_order(
            pair, orders[gram], product * idf[gram] ** 2, len(self._pair_docs)
        )
        image, candidate, reference = np.asarray(self._pair_docs).T
        denominators = norms[candidate] * norms[reference]
        similarity = np.divide(
            numerators,
            denominators,
            out=numerators.copy(),
            where=denominators != 0,
        )
        lengths = np.asarray(self._doc_lengths, dtype="float64")
        delta = lengths[candidate] - lengths[reference]
        similarity *= np.e ** (-(delta**2) / (2 * _SIGMA**2))[:, None]
        per_image = np.bincount(
            image, weights=similarity.mean(axis=1), minlength=num_images
        )
        return float(np.mean(per_image / np.asarray(self._num_refs) * 10.0))

    def _add_doc(self, words, counts):
        for gram in counts:
            if gram not in self._ids:
                self._ids[gram] = len(self._orders)
                self._orders.append(len(gram) - 1)
        self._docs.append([self._ids[g] for g in counts], list(counts.values()))
        # pycocoevalcap's "length" counts bigrams: one less than the words.
        self._doc_lengths.append(max(len(words) - 1, 0))
        return len(self._doc_lengths) - 1


class _Ragged:
    """Rows of (n-gram id, value) pairs, flattened on demand."""

    def __init__(self):
        self._grams, self._values, self._sizes = [], [], []

    def append(self, grams, values):
        self._grams.extend(grams)
        self._values.extend(values)
        self._sizes.append(len(grams))

    def flat(self):
        rows = np.repeat(np.arange(len(self._sizes)), self._sizes)
        grams = np.asarray(self._grams, dtype="int64")
        return rows, grams, np.asarray(self._values, dtype="float64")


def _per_order(rows, orders, values, num_rows):
    """Sums `values` per (row, n-gram order) into a `(num_rows, 4)` array."""
    sums = np.bincount(
        rows * _N + orders, weights=values, minlength=num_rows * _N
    )
    # bincount of nothing is int64 whatever the weights.
    return sums.astype("float64").reshape(num_rows, _N)
