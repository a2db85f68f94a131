"""Model selection: candidates cross-validated on the same folds, the best refitted on all."""

from __future__ import annotations

from functools import lru_cache

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.pipeline import make_pipeline

from domain.triage import TriageTicket
from tests.triage.corpora import character_pattern_corpus
from tests.triage.fixtures import sample_examples
from triage.candidates import CANDIDATES, candidate_named
from triage.selection import folds_for
from triage.training import Example, TrainingRun, fit, train_selected


@lru_cache
def character_run() -> TrainingRun:
    """Selection on the generated character-pattern corpus (fitted once for the module)."""
    return train_selected(character_pattern_corpus(seed=1), current=None)


def plain_char_lr_accuracy(train: list[Example], test: list[Example]) -> float:
    """The customer's baseline: char n-gram TF-IDF + logistic regression on the same file."""
    baseline = make_pipeline(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2),
        LogisticRegression(C=10, max_iter=2000),
    )
    baseline.fit([e.ticket.description for e in train], [e.team for e in train])
    predicted = baseline.predict([e.ticket.description for e in test])
    return float(accuracy_score([e.team for e in test], predicted))


def accuracy(model_predict: list[str], test: list[Example]) -> float:
    return float(accuracy_score([e.team for e in test], model_predict))


def test_selection_never_loses_to_the_plain_baseline_where_it_beats_the_blend() -> None:
    train, test = character_pattern_corpus(seed=1), character_pattern_corpus(seed=2)
    baseline = plain_char_lr_accuracy(train, test)
    shipped_blend = accuracy(fit(train).predict_labels([e.ticket for e in test]), test)
    assert shipped_blend < baseline, "the corpus must be one where the blend loses"

    run = character_run()
    trained = accuracy(run.model.predict_labels([e.ticket for e in test]), test)
    assert trained >= baseline
    scored = {c["name"]: c for c in run.selection["candidates"]}
    best = max(scored.values(), key=lambda c: (c["accuracy"], c["macro_f1"]))
    assert run.model.candidate == best["name"] == run.selection["winner"]
    assert scored["blend"]["accuracy"] < best["accuracy"]


def test_every_candidate_is_scored_on_the_same_folds_and_recorded() -> None:
    run = character_run()
    assert [c["name"] for c in run.selection["candidates"]] == [c.name for c in CANDIDATES]
    assert all(
        c["status"] == "scored" and c["folds_done"] == 3 for c in run.selection["candidates"]
    )
    assert run.selection["folds"] == 3
    winner = next(c for c in run.selection["candidates"] if c["name"] == run.model.candidate)
    assert round(run.scores["accuracy"], 4) == winner["accuracy"]
    teams = [e.team for e in character_pattern_corpus(seed=1)]
    folds = folds_for(teams, 3)
    assert sorted(i for fold in folds for i in fold) == list(range(len(teams)))


def test_the_winner_is_refitted_on_every_labelled_ticket() -> None:
    # A team with one ticket: a 20 % hold-out would keep it from the live model or leave
    # it untested; the refit on all labels has seen it.
    examples = [
        *sample_examples(),
        Example(
            TriageTicket(title="Badge reader dead", description="badge reader at gate 3"),
            "security",
        ),
    ]
    run = train_selected(examples, current=None)
    assert run.training_size == len(examples)
    assert set(run.model.heads["team"].classes) == {e.team for e in examples}
    assert run.model.predict(examples[-1].ticket).team == "security"


def test_the_cheapest_candidate_completes_when_the_budget_is_spent() -> None:
    run = train_selected(sample_examples(), current=None, budget_seconds=1e-9)
    statuses = {c["name"]: c["status"] for c in run.selection["candidates"]}
    assert statuses[CANDIDATES[0].name] == "scored"
    assert set(list(statuses.values())[1:]) == {"over budget"}
    assert run.model.candidate == CANDIDATES[0].name


def test_the_live_model_is_scored_on_the_same_tickets() -> None:
    examples = sample_examples()
    live = fit(examples, candidate_named("word-lr"))
    run = train_selected(examples, current=live, candidates=CANDIDATES[:1])
    assert run.current_scores is not None
    expected = accuracy(live.predict_labels([e.ticket for e in examples]), examples)
    assert run.current_scores["accuracy"] == expected
