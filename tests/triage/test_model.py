"""The triage model on a small real sample: predictions, probabilities, explanations, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV

from domain.triage import MAX_TEXT_CHARS, TriageTicket
from tests.triage.fixtures import sample_examples, sample_model
from triage.blend import SvcNbBlend
from triage.features import ticket_text
from triage.model import TriageModel
from triage.training import Example, fit


@pytest.mark.parametrize(
    ("title", "description", "team"),
    [
        ("VPN keeps disconnecting", "the vpn client drops the connection at home", "network"),
        ("无线网络掉线", "会议室无线网络一直掉线", "network"),
        ("Printer paper jam", "printer reports paper jam", "desktop"),
        ("账号锁定", "忘记密码 账号被锁定", "accounts"),
        ("Kitchen sink leaking", "water leak under the kitchen sink", "facilities"),
    ],
)
def test_unseen_tickets_go_to_the_plausible_team(title: str, description: str, team: str) -> None:
    result = sample_model().predict(TriageTicket(title=title, description=description))
    assert result.team == team
    assert result.alternatives[0].label == team


def test_probabilities_rank_three_alternatives_and_sum_below_one() -> None:
    result = sample_model().predict(
        TriageTicket(title="Laptop black screen", description="laptop does not boot after logo")
    )
    probabilities = [a.probability for a in result.alternatives]
    assert len(result.alternatives) == 3
    assert probabilities == sorted(probabilities, reverse=True)
    assert 0 < sum(probabilities) <= 1.0001
    assert result.confidence == probabilities[0]
    assert result.category is not None
    assert result.priority is not None


def test_explanation_names_the_words_that_pushed_the_team() -> None:
    result = sample_model().predict(
        TriageTicket(title="VPN drops", description="vpn disconnects from home")
    )
    assert result.team == "network"
    assert result.top_features, "a linear model can always say what weighed"
    assert all(f.weight > 0 for f in result.top_features)
    assert any("vpn" in f.feature for f in result.top_features)


def test_categorical_field_counts_and_unknown_values_are_ignored() -> None:
    model = sample_model()
    known = model.predict(TriageTicket(title="x", fields={"error_code": "AUTH-LOCK"}))
    assert known.team == "accounts"
    unknown = model.predict(TriageTicket(title="x", fields={"error_code": "NEVER-SEEN-42"}))
    assert unknown.team is not None
    assert any(f.feature == "field:error_code=auth-lock" for f in known.top_features)


def test_empty_text_still_answers() -> None:
    result = sample_model().predict(TriageTicket())
    assert result.team is not None
    assert 0 <= result.confidence <= 1


def test_huge_text_is_cut_not_refused() -> None:
    huge = "vpn timeout " * 200_000
    assert len(ticket_text([TriageTicket(description=huge)])[0]) == MAX_TEXT_CHARS
    assert sample_model().predict(TriageTicket(description=huge)).team == "network"


def test_device_numbers_are_imputed_when_missing() -> None:
    examples = sample_examples()
    for i, example in enumerate(examples):
        if example.team == "facilities":
            example.ticket.numbers["temperature_c"] = 14.0 + i % 3
    model = TriageModel.fit([e.ticket for e in examples], {"team": [e.team for e in examples]})
    assert "device:temperature_c_missing" in model.names
    with_numbers = model.predict(TriageTicket(numbers={"temperature_c": 15.0}))
    without = model.predict(TriageTicket(numbers={"temperature_c": math.nan}))
    assert with_numbers.team is not None
    assert without.team is not None


def test_a_single_team_cannot_be_trained() -> None:
    examples = [e for e in sample_examples() if e.team == "network"]
    with pytest.raises(ValueError, match="two distinct teams"):
        TriageModel.fit([e.ticket for e in examples], {"team": [e.team for e in examples]})


def test_the_calibrated_blend_head_is_one_linear_model() -> None:
    examples = sample_examples()
    model = TriageModel.fit(
        [e.ticket for e in examples],
        {"team": [e.team for e in examples]},
        calibrate_from=0,
    )
    head = model.heads["team"]
    assert isinstance(head.classifier, CalibratedClassifierCV)
    blends = [c.estimator for c in head.classifier.calibrated_classifiers_]
    assert all(isinstance(b, SvcNbBlend) for b in blends)
    x = model.transform([e.ticket for e in examples[:5]])
    for blend in blends:
        scores = x @ blend.coef_.T + blend.intercept_
        assert np.allclose(scores, blend.decision_function(x))
    result = model.predict(TriageTicket(title="VPN drops", description="vpn disconnects"))
    assert result.team == "network"
    assert any("vpn" in f.feature for f in result.top_features)


def test_the_blend_handles_two_classes() -> None:
    examples = [e for e in sample_examples() if e.team in ("network", "facilities")]
    model = TriageModel.fit(
        [e.ticket for e in examples], {"team": [e.team for e in examples]}, calibrate_from=0
    )
    leak = model.predict(TriageTicket(title="Water leak", description="kitchen sink leaking"))
    assert leak.team == "facilities"
    assert len(leak.alternatives) == 2
    assert abs(sum(a.probability for a in leak.alternatives) - 1) < 1e-3


def test_the_same_words_go_where_the_device_reading_says_and_the_answer_names_it() -> None:
    # "The printer jams" is a consumable or a hardware fault depending on what it reports.
    examples = [
        Example(
            TriageTicket(
                title="The printer jams",
                description=f"printer on floor {i % 4} jams again",
                numbers={"live.toner": toner, "live.roller_wear": wear},
            ),
            team,
        )
        for i in range(40)
        for toner, wear, team in (
            (2.0 + i % 3, 10.0 + i % 5, "supplies"),
            (80.0 + i % 7, 95.0 - i % 4, "hardware"),
        )
    ]
    model = fit(examples)
    low_toner = model.predict(
        TriageTicket(
            title="The printer jams", numbers={"live.toner": 3.0, "live.roller_wear": 12.0}
        )
    )
    worn = model.predict(
        TriageTicket(
            title="The printer jams", numbers={"live.toner": 85.0, "live.roller_wear": 93.0}
        )
    )
    assert (low_toner.team, worn.team) == ("supplies", "hardware")
    assert any(f.feature.startswith("device:live.") for f in worn.top_features)
