"""The answer evaluation's own rules: which quiz questions count as certainly unanswerable, what
the relevance gate's sweep reports, and that the hand labels hold."""

import json
from pathlib import Path

from evals.answer_report import gate_sweep, summary
from evals.answers import UNANSWERABLE, absent_questions, written_questions
from evals.labels import Label, check, problems


def _write(folder: Path, docs: list[str], questions: list[dict]) -> Path:
    (folder / "docs.jsonl").write_text(
        "\n".join(json.dumps({"id": f"d{i}", "title": "News", "text": t}) for i, t in enumerate(docs)) + "\n")
    (folder / "questions.jsonl").write_text("\n".join(json.dumps(q) for q in questions) + "\n")
    return folder


def _q(id: str, answers: list[str], in_archive: bool = False, split: str = "dev") -> dict:
    return {"id": id, "split": split, "question": f"Question {id} about Storm Ciarán?",
            "answers": answers, "answer_in_archive": in_archive}


def test_absent_questions_are_names_the_archive_never_uses(tmp_path: Path) -> None:
    root = _write(tmp_path, ["Storm Ciaran battered Britain; the Macallan 1926 sold for $2.7 million.",
                             "Former Texas Rep. Will Hurd ended his campaign. Jewellery was seized."],
                  [_q("absent", ["Auxerre"]),
                   _q("also-absent", ["Tigst Assefa", "Assefa"]),
                   _q("accent", ["Ciarán"]),  # in the archive without its accent
                   _q("figure", ["£2.1 million"]),  # a figure may be given otherwise
                   _q("phrase", ["Former Texas Rep. Will Hurd"]),  # every word occurs
                   _q("long", ["A description of more than four words, unmatched"]),
                   _q("one-present", ["Auxerre", "Jewellery"]),  # one answer is in the archive
                   _q("short-word", ["Abc"]),  # too short to be sure of
                   _q("in-archive", ["Auxerre"], in_archive=True),
                   _q("test-split", ["Auxerre"], split="test")])
    assert [i for i, _ in absent_questions(root, "dev")] == ["absent", "also-absent"]
    assert [i for i, _ in absent_questions(root, "all")] == ["absent", "also-absent", "test-split"]


def test_written_questions_belong_to_their_split(tmp_path: Path) -> None:
    path = tmp_path / "u.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [
        {"id": "d", "question": "Q d?", "split": "dev"}, {"id": "t", "question": "Q t?", "split": "test"},
        {"id": "any", "question": "Q any?"}]) + "\n")
    assert [i for i, _ in written_questions(path, "dev")] == ["d", "any"]
    assert [i for i, _ in written_questions(path, "test")] == ["t", "any"]
    assert [i for i, _ in written_questions(path, "all")] == ["d", "t", "any"]
    assert written_questions(tmp_path / "missing.jsonl", "dev") == []
    # The project's news questions: test's are not dev's, so its refusal figure is held out.
    dev, test = (written_questions(UNANSWERABLE / "news-2023q4.jsonl", s) for s in ("dev", "test"))
    assert len(dev) == len(test) == 16 and not {q for _, q in dev} & {q for _, q in test}


def _row(answerable: bool, relevance: float, kind: str = "", retrieved: bool | None = None,
         labelled: bool | None = None) -> dict:
    return {"answerable": answerable, "kind": kind, "relevance": relevance, "refused": relevance < 0.5,
            "answer_retrieved": retrieved, "archive_answers": labelled,
            "evidence_retrieved": retrieved if labelled else None, "coverage": 0.0, "supported": 0, "sentences": 0, "needed": 0,
            "citations": 0, "gold_cited": False, "grounded": relevance >= 0.5, "seconds": 0.1}


def test_gate_sweep_and_summary_count_each_kind_apart() -> None:
    rows = [_row(True, 0.62, retrieved=True, labelled=True), _row(True, 0.47, retrieved=True, labelled=True),
            _row(True, 0.42, retrieved=False, labelled=False),
            _row(False, 0.30, "written"), _row(False, 0.44, "written"),
            _row(False, 0.58, "absent"), _row(False, 0.46, "absent"), _row(False, 0.41, "absent")]
    by_t = {g["min_relevance"]: g for g in gate_sweep(rows)}
    assert by_t[0.45] == {"min_relevance": 0.45, "answer_rate": 0.667, "answer_rate_retrieved": 1.0,
                          "answer_rate_labelled": 1.0, "refusal_elsewhere": 1.0,
                          "refusal_written": 1.0, "refusal_absent": 0.333}
    assert (by_t[0.50]["answer_rate"], by_t[0.50]["refusal_absent"]) == (0.333, 0.667)
    s = summary(rows)  # the run's own refusals: those of the 0.5 gate here
    assert (s["refusal_acc_written"], s["refusal_acc_absent"], s["refusal_acc_unanswerable"]) == (1.0, 0.667, 0.8)
    assert s["refusal_acc_answerable"] == by_t[0.50]["answer_rate"]
    # Labelled answerable questions: the archive answers two, and the third only looks answerable.
    assert (s["labelled_answered"], s["labelled_elsewhere"]) == (2, 1)
    assert (s["answer_rate_labelled"], s["evidence_retrieved"], s["refusal_acc_elsewhere"]) == (0.5, 1.0, 1.0)
    assert by_t[0.50]["answer_rate_labelled"] == 0.5


def test_labels_are_checked_against_the_archive() -> None:
    docs = {"d1": "Paris is fighting bedbugs in its metro and cinemas.", "d2": "Hotels harbour bed bugs."}
    answers = {"q1": ["Bedbugs"], "q2": ["Bedbugs"], "q3": ["Lyon"], "q4": ["Bedbugs"], "q5": ["x"]}
    good = {"q1": Label("q1", True, "d1", 0, 40), "q2": Label("q2", False),
            "q4": Label("q4", True, "d2", 0, 24, variant=True)}
    assert problems(good, docs, answers) == ["q3: no label", "q5: no label"]
    bad = {"q1": Label("q1", True, "d1", 0, 10),  # the span misses the answer
           "q2": Label("q2", True, "d9", 0, 10),  # no such document
           "q3": Label("q3", True, "d1", 0, 900),  # beyond the document
           "q4": Label("q4", True, "d2", 0, 24),  # "bed bugs" without `variant`
           "q5": Label("q5", False), "q6": Label("q6", False)}
    assert problems(bad, docs, answers) == [
        "q1: the span holds no gold answer string and is not marked variant",
        "q2: document 'd9' is not in the archive",
        "q3: span 0:900 is not within 800 characters of document d1",
        "q4: the span holds no gold answer string and is not marked variant",
        "q6: labels a question that does not count"]


def test_news_labels_check_out_against_the_corpus(shared: Path) -> None:
    """Every countable news question is labelled, and every label's evidence is where it says."""
    assert check(shared / "corpora" / "news-2023q4") == []


def test_retrieval_tables_count_labelled_questions_apart() -> None:
    from evals.corpora import Corpus
    from evals.retrieval import labelled

    corpus = Corpus("news-2023q4", Path("."), "answer accuracy (DPR)", [], [])
    # 20231103_23: the archive answers it; 20231006_4: its answer string occurs only elsewhere.
    results = [{"config": "hybrid", "tokens_per_passage": 190.0,
                "first_gold_rank": {"20231103_23": 3, "20231006_4": 1, "not-labelled": 1}}]
    lines = labelled(corpus, results)
    assert "On the 1 of these questions" in lines[1]
    assert lines[-1] == "| hybrid | 0.000 | 1.000 | 1.000 | 1.000 | 190 |"
    assert labelled(Corpus("cambodia", Path("."), "", [], []), results) == []


def test_an_eval_store_drops_files_ingested_from_another_checkout(tmp_path: Path) -> None:
    """A baseline run from a git worktree ingests the sample under the worktree's paths: the next
    run's store must not keep both copies, or every question finds each passage twice."""
    import shutil

    from assistant.index.store import Store
    from assistant.settings import Settings
    from evals.answers import Suite, build
    from ingest import ingest

    here, elsewhere = tmp_path / "here" / "archive", tmp_path / "worktree" / "archive"
    for folder in (here, elsewhere):
        shutil.copytree(Path(__file__).parent.parent / "examples" / "archive" / "statements", folder)
    settings = Settings(store=tmp_path / "store", sentence_vectors=False)
    ingest([elsewhere], settings)
    report = build(Suite("sample", [here], []), settings)
    assert report.ok and len(report.added) == 2
    kept = sorted(Store.open(settings).file_records())
    assert kept and all(k.startswith(str(here.resolve())) for k in kept)
