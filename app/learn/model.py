"""The local model: one linear classifier per taxonomy field over hashed word n-grams.

Features are word unigrams and bigrams of the redacted subject and description (English stop
words dropped), hashed into 2^18 buckets (scikit-learn's HashingVectorizer, MurmurHash3, so the
same text gives the same buckets in every version), weighted tf-idf with sublinear term
frequency and scaled to unit length. Only buckets seen in at least two training tickets are kept,
so a word that appeared in one ticket alone (a name the redactor missed, an order number) cannot
steer the model. Each field it learned is a multinomial logistic regression over those features
(a file may label some fields only: the header lists those, and the rules answer the others).

Beside the regressions the model keeps a memory of its training tickets (their feature rows and
labels, at most MEMORY_MAX of them). A new ticket whose nearest training ticket is a near-twin
(cosine similarity at least TWIN_SIMILARITY) may take that ticket's labels: support desks see
the same problem reported again and again, and a labelled twin is often a better guide than the
weights. The confidence of a twin's answer is not a guess: at training, each training ticket is
answered by its own nearest other ticket, and the share of right answers per field and similarity
band (Laplace smoothed) becomes the confidence of twin answers in that band. Per field, the twin
answers only when that confidence is above the model's probability for its own answer. That
probability blends the regression with a vote of the most similar remembered tickets, by a weight
per field that cross-validation chose at training (NEIGHBOUR_WEIGHTS).

The file is a NumPy `.npz` read with `allow_pickle=False`: plain arrays and one JSON header, so
loading a model never runs code, whoever wrote the file. It holds no words either, only bucket
numbers and weights. The header names the taxonomy the model was trained for; a model for
another taxonomy name, version or set of values is refused (LocalModelError).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import zipfile
import zlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression

from app.domain.taxonomy import Taxonomy

FORMAT = "triage-fleet-local-model"
FORMAT_VERSION = 1
HASH_BITS = 18
NGRAMS = (1, 2)
MIN_DOCUMENT_FREQUENCY = 2
# Inverse regularisation strength of each field's logistic regression: chosen by 5-fold
# cross-validation on the training 80% of the public eval set only (bench/classify_eval.py).
REGULARISATION_C = 8.0
# Near-twins: on the public eval set's training part, a nearest other ticket this similar had the
# same labels 94% of the time (leave-one-out), against 78% from 0.4 (bench/classify_eval.py).
TWIN_SIMILARITY = 0.5
TWIN_BANDS = np.array([0.5, 0.6, 0.7, 0.8, 0.9])  # lower bounds of the similarity bands
MEMORY_MAX = 20_000  # training tickets remembered (the newest when there are more): about 1 MB each 1,000
# The neighbours' vote: the NEIGHBOURS most similar remembered tickets vote for their labels with
# weight similarity^NEIGHBOUR_POWER, and each field's answer blends the regression's probabilities
# with the vote by a weight chosen per field by cross-validation at training (NEIGHBOUR_WEIGHTS;
# 0 keeps the regression alone). On the public eval set's training part that chose 0.7 for
# urgency and 0.3 for the ticket type.
NEIGHBOURS = 40
NEIGHBOUR_POWER = 3
NEIGHBOUR_WEIGHTS = (0.0, 0.3, 0.5, 0.7)


class LocalModelError(ValueError):
    """The model file is missing, unreadable, not a model, or made for another taxonomy."""


def ticket_text(subject: str, description: str) -> str:
    """The text the model reads: subject and description, redacted by the caller."""
    return f"{subject}\n{description}"


@dataclass(frozen=True)
class FieldModel:
    """One field's classifier: class names and a weight row per class (softmax over the rows)."""

    classes: tuple[str, ...]
    coef: np.ndarray  # (classes, features), float32
    intercept: np.ndarray  # (classes,), float32

    def probabilities(self, rows: sparse.csr_matrix) -> np.ndarray:
        """A (rows, classes) array of probabilities (softmax of the class scores)."""
        scores = np.asarray(rows @ self.coef.T) + self.intercept
        scores -= scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return exp / exp.sum(axis=1, keepdims=True)


class Features:
    """Hashed, idf-weighted, unit-length rows from texts, restricted to the kept buckets."""

    def __init__(self, kept: np.ndarray, idf: np.ndarray) -> None:
        self.kept = kept
        self.idf = idf
        # Bucket number -> column, for the buckets the model keeps.
        self._column = np.full(1 << HASH_BITS, -1, dtype=np.int64)
        self._column[kept] = np.arange(len(kept))

    @staticmethod
    def counts(texts: list[str]) -> sparse.csr_matrix:
        """Raw n-gram counts per hashed bucket (2^18 columns)."""
        return _HASHER.transform(texts).tocsr()

    def transform(self, texts: list[str]) -> sparse.csr_matrix:
        counts = self.counts(texts).tocoo()
        columns = self._column[counts.col]
        keep = columns >= 0
        rows = sparse.csr_matrix(
            ((1.0 + np.log(counts.data[keep])) * self.idf[columns[keep]], (counts.row[keep], columns[keep])),
            shape=(len(texts), len(self.kept)),
            dtype=np.float64,
        )
        norms = np.sqrt(np.asarray(rows.multiply(rows).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sparse.csr_matrix(rows.multiply(1.0 / norms[:, None]))

    @classmethod
    def fit(cls, texts: list[str]) -> Features:
        """Keep the buckets of at least MIN_DOCUMENT_FREQUENCY texts; smoothed idf as scikit-learn's."""
        counts = cls.counts(texts)
        document_frequency = np.bincount(counts.indices, minlength=1 << HASH_BITS)
        kept = np.flatnonzero(document_frequency >= MIN_DOCUMENT_FREQUENCY)
        idf = np.log((1 + len(texts)) / (1 + document_frequency[kept])) + 1.0
        return cls(kept.astype(np.int32), idf.astype(np.float32))


_HASHER = HashingVectorizer(
    n_features=1 << HASH_BITS, ngram_range=NGRAMS, stop_words="english", alternate_sign=False, norm=None, lowercase=True
)


def fit_field(features: sparse.csr_matrix, labels: list[str], weights: np.ndarray | None = None) -> FieldModel:
    """A multinomial logistic regression for one field (at least two distinct labels)."""
    # Newton-CG reaches the same (convex, unique) optimum as the default L-BFGS in a tenth of the
    # time on these sparse features: training cross-validates the neighbours' weight with it.
    model = LogisticRegression(C=REGULARISATION_C, solver="newton-cg", max_iter=200)
    model.fit(features, labels, sample_weight=weights)
    coef, intercept = model.coef_, model.intercept_
    if len(model.classes_) == 2:
        # Binary fits give one row (the second class against the first); as softmax rows the
        # first class scores 0 and the second the fitted row, which is the same probability.
        coef = np.vstack([np.zeros_like(coef[0]), coef[0]])
        intercept = np.array([0.0, intercept[0]])
    return FieldModel(tuple(str(c) for c in model.classes_), coef.astype(np.float32), intercept.astype(np.float32))


@dataclass
class Neighbours:
    """What the remembered tickets say about some texts: each text's most similar one (its index
    and similarity), and per field the similarity-weighted vote of its NEIGHBOURS nearest."""

    twin: np.ndarray
    similarity: np.ndarray
    votes: dict[str, np.ndarray]


def neighbours(
    rows: sparse.csr_matrix,
    remembered_by_feature: sparse.csr_matrix,
    labels: dict[str, np.ndarray],
    classes: dict[str, int],
    chunk: int = 1000,
) -> Neighbours:
    """Neighbours of `rows` among remembered tickets (given transposed: features x tickets), whose
    labels are class indices per field (-1: unlabelled). In chunks, so memory stays bounded."""
    twins, similarities = [], []
    votes = {name: np.zeros((rows.shape[0], count)) for name, count in classes.items()}
    for start in range(0, rows.shape[0], chunk):
        block = (rows[start : start + chunk] @ remembered_by_feature).toarray()
        twins.append(block.argmax(axis=1))
        similarities.append(block.max(axis=1))
        k = min(NEIGHBOURS, block.shape[1])
        nearest = np.argpartition(-block, k - 1, axis=1)[:, :k]
        weights = np.clip(np.take_along_axis(block, nearest, axis=1), 0, None) ** NEIGHBOUR_POWER
        row_of = np.repeat(np.arange(start, start + block.shape[0]), k).reshape(nearest.shape)
        for name in classes:
            voted = labels[name][nearest]
            counted = voted >= 0  # an unlabelled neighbour has no vote
            np.add.at(votes[name], (row_of[counted], voted[counted]), weights[counted])
    for matrix in votes.values():
        totals = matrix.sum(axis=1, keepdims=True)
        np.divide(matrix, totals, out=matrix, where=totals > 0)
    return Neighbours(np.concatenate(twins), np.concatenate(similarities), votes)


def blend(probabilities: np.ndarray, votes: np.ndarray, weight: float) -> np.ndarray:
    """The regression's probabilities and the neighbours' vote, mixed; a text nobody voted on keeps
    the regression's."""
    if weight <= 0:
        return probabilities
    voted = votes.sum(axis=1, keepdims=True) > 0
    return np.where(voted, (1 - weight) * probabilities + weight * votes, probabilities)


@dataclass
class Memory:
    """Training tickets' feature rows and labels (class index per field, -1: unlabelled); per
    field and similarity band how often a twin's label was right (leave-one-out at training); and
    per field the weight of the neighbours' vote."""

    rows: sparse.csr_matrix
    labels: dict[str, np.ndarray]
    band_precision: dict[str, np.ndarray]
    neighbour_weight: dict[str, float]

    @cached_property
    def _by_feature(self) -> sparse.csr_matrix:
        """The rows transposed once (features x tickets): a ticket's similarities are then one product."""
        return self.rows.T.tocsr()

    def neighbours(self, rows: sparse.csr_matrix, classes: dict[str, int]) -> Neighbours:
        return neighbours(rows, self._by_feature, self.labels, classes)

    def nearest(self, rows: sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
        """For each row, the index of the most similar remembered ticket and the similarity."""
        found = self.neighbours(rows, {})
        return found.twin, found.similarity

    @staticmethod
    def build(rows: sparse.csr_matrix, labels: dict[str, np.ndarray], neighbour_weight: dict[str, float]) -> Memory:
        twin, similarity = _nearest_other(rows)
        band = twin_band(similarity)  # the same for every field
        precision = {}
        for name, codes in labels.items():
            usable = (band >= 0) & (codes >= 0) & (codes[twin] >= 0)
            right = codes[twin] == codes
            precision[name] = np.array(
                [
                    (np.sum(right & usable & (band == b)) + 1) / (np.sum(usable & (band == b)) + 2)
                    for b in range(len(TWIN_BANDS))
                ],
                dtype=np.float32,
            )
        return Memory(rows, labels, precision, neighbour_weight)


def twin_band(similarity: Any) -> Any:
    """The TWIN_BANDS band a similarity falls in (-1: below the first), for a number or an array."""
    return np.searchsorted(TWIN_BANDS, similarity, side="right") - 1


def _nearest_other(rows: sparse.csr_matrix, chunk: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """Each row's most similar other row (itself excluded), in chunks to bound memory."""
    twins, similarities = [], []
    for start in range(0, rows.shape[0], chunk):
        block = (rows[start : start + chunk] @ rows.T).toarray()
        block[np.arange(block.shape[0]), np.arange(start, start + block.shape[0])] = -1.0
        twins.append(block.argmax(axis=1))
        similarities.append(block.max(axis=1))
    return np.concatenate(twins), np.concatenate(similarities)


@dataclass
class LocalModel:
    """A classifier per taxonomy field it learned (all of them, or those its training file
    labelled) over shared features, with where it came from."""

    taxonomy_name: str
    taxonomy_version: str
    features: Features
    fields: dict[str, FieldModel]
    trained_at: str
    source: str
    memory: Memory | None = None

    @cached_property
    def model_id(self) -> str:
        """`local-<12 hex>`: a hash of the weights, shown in notes so a ticket names its model."""
        digest = hashlib.sha256()
        digest.update(self.features.kept.astype(np.int32).tobytes())
        for name in sorted(self.fields):
            digest.update(name.encode())
            digest.update(self.fields[name].coef.astype(np.float32).tobytes())
            if self.memory is not None:
                digest.update(self.memory.labels[name].astype(np.int16).tobytes())
                digest.update(np.float32(self.memory.neighbour_weight[name]).tobytes())
        return f"local-{digest.hexdigest()[:12]}"

    def probabilities(self, texts: list[str], rows: sparse.csr_matrix | None = None) -> dict[str, np.ndarray]:
        """Per field, a (texts, classes) array of the regression's probabilities in the field's class order."""
        rows = self.features.transform(texts) if rows is None else rows
        return {name: field.probabilities(rows) for name, field in self.fields.items()}

    def predict(self, texts: list[str]) -> list[tuple[dict[str, str], dict[str, float]]]:
        """Per text: the most probable value of every field, and its probability (the confidence)."""
        rows = self.features.transform(texts)
        probabilities = self.probabilities(texts, rows)
        # Votes only for the fields that use them (a weight of 0 leaves the regression alone).
        memory = self.memory
        found = (
            memory.neighbours(
                rows,
                {name: len(f.classes) for name, f in self.fields.items() if memory.neighbour_weight[name] > 0},
            )
            if memory is not None
            else None
        )
        answers: list[tuple[dict[str, str], dict[str, float]]] = [({}, {}) for _ in texts]
        for name, matrix in probabilities.items():
            classes = self.fields[name].classes
            if memory is not None and found is not None and name in found.votes:
                matrix = blend(matrix, found.votes[name], memory.neighbour_weight[name])
            for row, index in enumerate(matrix.argmax(axis=1)):
                value, confidence = classes[index], float(matrix[row, index])
                if memory is not None and found is not None and found.similarity[row] >= TWIN_SIMILARITY:
                    code = memory.labels[name][found.twin[row]]
                    twin_confidence = float(memory.band_precision[name][twin_band(found.similarity[row])])
                    # Whichever is surer answers: on text where near-twins often disagree (a
                    # template with a different urgency cue), the band's measured precision is low.
                    if code >= 0 and twin_confidence > confidence:
                        value, confidence = classes[code], twin_confidence
                answers[row][0][name] = value
                answers[row][1][name] = round(confidence, 4)
        return answers

    # The file -------------------------------------------------------------------------

    def header(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "hash_bits": HASH_BITS,
            "ngrams": list(NGRAMS),
            "taxonomy": {"name": self.taxonomy_name, "version": self.taxonomy_version},
            "fields": {name: list(field.classes) for name, field in self.fields.items()},
            "trained_at": self.trained_at,
            "source": self.source,
        }

    def save(self, path: Path) -> None:
        """Write atomically (a reader never sees half a file): a temporary file, then a rename."""
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {
            "header": np.array(json.dumps(self.header())),
            "kept": self.features.kept,
            "idf": self.features.idf,
        }
        for name, field in self.fields.items():
            arrays[f"{name}.coef"] = field.coef
            arrays[f"{name}.intercept"] = field.intercept
        if self.memory is not None:
            rows = self.memory.rows
            arrays.update(
                {
                    "memory.indptr": rows.indptr.astype(np.int64),
                    "memory.indices": rows.indices.astype(np.int32),
                    "memory.data": rows.data.astype(np.float32),
                }
            )
            for name in self.fields:
                arrays[f"{name}.memory_labels"] = self.memory.labels[name].astype(np.int16)
                arrays[f"{name}.twin_precision"] = self.memory.band_precision[name]
                arrays[f"{name}.neighbour_weight"] = np.array([self.memory.neighbour_weight[name]], dtype=np.float32)
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        with partial.open("wb") as handle:
            # numpy's stub lets **kwds fill allow_pickle (bool) too, so a dict of arrays is refused.
            np.savez_compressed(handle, **arrays)  # type: ignore[arg-type]
        os.replace(partial, path)


MAKE_ONE = "make one with `python -m app train FILE`"
# The first bytes of a zip archive (what np.savez writes; an empty archive starts with the second).
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
NPY_MAGIC = b"\x93NUMPY"


def not_a_model(path: Path | str, what: str) -> LocalModelError:
    """The one error for a file that is not a model at all: what it is instead, and how to make one."""
    return LocalModelError(f"{path} is not a Triage Fleet model ({what}); {MAKE_ONE}")


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    """The file's arrays, read without unpickling anything.

    Only a zip archive reaches np.load: given anything else, numpy would try the file as a pickle
    (refused with allow_pickle=False, but with a message inviting the reader to allow it)."""
    try:
        with path.open("rb") as handle:
            start = handle.read(512)
    except FileNotFoundError:
        raise LocalModelError(f"no local model at {path}; train one with `python -m app train FILE`") from None
    except OSError as e:
        raise LocalModelError(f"{path} cannot be read ({e.strerror or type(e).__name__})") from None
    if not start:
        raise not_a_model(path, "the file is empty")
    if start.startswith(NPY_MAGIC):
        raise not_a_model(path, "a single NumPy array, not a model archive")
    if not start.startswith(ZIP_MAGIC):
        raise not_a_model(
            path, f"{'a text file' if _looks_like_text(start) else 'some other file'}, not a NumPy .npz archive"
        )
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, zipfile.BadZipFile, EOFError, zlib.error):
        raise not_a_model(path, "a damaged or truncated zip archive") from None
    except ValueError:
        # What allow_pickle=False raises for an array of pickled objects: refused, never run.
        raise not_a_model(path, "it holds pickled objects or unreadable arrays, which are never loaded") from None
    if not all(isinstance(array, np.ndarray) for array in arrays.values()):
        raise not_a_model(path, "a zip archive of files that are not NumPy arrays")
    if "header" not in arrays:
        raise not_a_model(path, "a NumPy archive without a model header")
    return arrays


def _looks_like_text(start: bytes) -> bool:
    try:
        start.decode("utf-8")
    except UnicodeDecodeError as e:
        return e.start >= len(start) - 3 and b"\0" not in start  # a character cut at the end is still text
    return b"\0" not in start


def load_model(path: Path, taxonomy: Taxonomy) -> LocalModel:
    """Read a model file without running any code in it, and check it fits `taxonomy`."""
    arrays = _read_arrays(path)
    try:
        try:
            header = json.loads(str(arrays["header"]))
        except ValueError:
            raise not_a_model(path, "its header is not JSON") from None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise not_a_model(path, "its header names no Triage Fleet model format")
        if (
            header.get("format_version") != FORMAT_VERSION
            or header.get("hash_bits") != HASH_BITS
            or tuple(header.get("ngrams", ())) != NGRAMS
        ):
            raise LocalModelError(
                f"{path} was written by another version of Triage Fleet "
                f"(format {header.get('format_version')}); train it again"
            )
        fields = {
            name: FieldModel(tuple(classes), arrays[f"{name}.coef"], arrays[f"{name}.intercept"])
            for name, classes in header["fields"].items()
        }
        kept = arrays["kept"].astype(np.int64)
        memory = None
        if "memory.indptr" in arrays:
            rows = sparse.csr_matrix((arrays["memory.data"], arrays["memory.indices"], arrays["memory.indptr"]))
            rows.resize((len(arrays["memory.indptr"]) - 1, len(kept)))
            memory = Memory(
                rows,
                {name: arrays[f"{name}.memory_labels"].astype(np.int64) for name in fields},
                {name: arrays[f"{name}.twin_precision"] for name in fields},
                {name: round(float(arrays[f"{name}.neighbour_weight"][0]), 4) for name in fields},
            )
        model = LocalModel(
            header["taxonomy"]["name"],
            str(header["taxonomy"]["version"]),
            Features(kept, arrays["idf"]),
            fields,
            header.get("trained_at", ""),
            header.get("source", ""),
            memory,
        )
    except LocalModelError:
        raise
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise LocalModelError(f"{path} is damaged: {type(e).__name__}: {e}") from e
    _check_shapes(model, path)
    check_taxonomy(model, taxonomy, path)
    return model


def _check_shapes(model: LocalModel, path: Path) -> None:
    kept = model.features.kept
    if (
        kept.ndim != 1
        or model.features.idf.shape != kept.shape
        or (len(kept) and (kept.min() < 0 or kept.max() >= 1 << HASH_BITS))
    ):
        raise LocalModelError(f"{path} is damaged: feature arrays do not match")
    for name, field in model.fields.items():
        if field.coef.shape != (len(field.classes), len(kept)) or field.intercept.shape != (len(field.classes),):
            raise LocalModelError(f"{path} is damaged: field {name!r} has weights of the wrong shape")
    memory = model.memory
    if memory is not None:
        examples = memory.rows.shape[0]
        if memory.rows.indices.size and memory.rows.indices.max() >= len(kept):
            raise LocalModelError(f"{path} is damaged: remembered tickets do not match the features")
        for name, field in model.fields.items():
            codes = memory.labels[name]
            if (
                codes.shape != (examples,)
                or (codes.size and (codes.min() < -1 or codes.max() >= len(field.classes)))
                or memory.band_precision[name].shape != TWIN_BANDS.shape
                or not 0 <= memory.neighbour_weight[name] < 1
            ):
                raise LocalModelError(f"{path} is damaged: field {name!r} has remembered labels of the wrong shape")


def check_taxonomy(model: LocalModel, taxonomy: Taxonomy, path: Path | str = "the model") -> None:
    """Refuse a model made for another taxonomy: its answers would name values the fleet does not have."""
    if (model.taxonomy_name, model.taxonomy_version) != (taxonomy.name, taxonomy.version):
        raise LocalModelError(
            f"{path} was trained for taxonomy {model.taxonomy_name!r} version {model.taxonomy_version}, but the "
            f"fleet uses {taxonomy.name!r} version {taxonomy.version}; train it again with `python -m app train`"
        )
    # A model may know some fields only (a team with labels for urgency alone): the rules or the
    # LLM answer the others (LocalClassifier, and the gate is never sure of them). Not none at all.
    if not model.fields:
        raise LocalModelError(f"{path} is damaged: it has a classifier for no field")
    for name, field in model.fields.items():
        declared = taxonomy.fields.get(name)
        if declared is None:
            raise LocalModelError(f"{path} answers a field {name!r} the taxonomy does not declare; train it again")
        unknown = sorted(set(field.classes) - set(declared.values))
        if unknown:
            raise LocalModelError(
                f"{path} answers {name!r} with values the taxonomy does not declare {unknown}; train it again"
            )


def today() -> str:
    return time.strftime("%Y-%m-%d", time.gmtime())
