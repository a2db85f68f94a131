"""Problem candidates: symptoms of different tickets that keep arriving together.

Tickets are cut into fixed time windows. A term (a word, a number such as an HTTP status, or a
pair of Chinese characters, from the ticket's title) is present in a window when some ticket of
it has the term. Two terms form a candidate pair when they show up in *different* tickets of the
same window in at least `min_support` windows, with a lift of at least `min_lift` (how much
more often than if the two were independent), and when that co-occurrence is unlikely to be
chance: the hypergeometric tail probability of that many shared windows, given how many windows
each term has, is below `alpha` divided by the number of pairs that could have been tested
(Bonferroni). Terms that mostly come in the same ticket ("login" and "timeout" of "login
timeout") describe one symptom, not two, and do not pair. Pairs that share a term are one
candidate: the tickets of their windows, and the assets they have in common.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from itertools import combinations

from pydantic import BaseModel, ConfigDict, Field

# Intake fields that name what a ticket is about: shared values become the problem's assets.
ASSET_FIELDS = ("affected_service", "service", "system", "asset_tag", "device_id", "site")
# Words that say nothing about a symptom (English); Chinese titles are cut into bigrams, whose
# common fillers are listed too.
_ENGLISH_STOPWORDS = """a an and are as at be but by can cannot could do does for from has have help
i in is it its me my no not of on or our please since so some still that the their there this to
up us was we when where which while why will with won't would you your after again all any issue
problem error failed fails failure broken working work works down doesn't isn't get gets getting
got"""
STOPWORDS = frozenset(_ENGLISH_STOPWORDS.split()) | frozenset(
    {"无法", "不能", "问题", "出现", "一直", "请帮", "帮忙", "我们", "今天"}
)
_WORD = re.compile(r"[a-z][a-z0-9_'.-]*[a-z0-9]|[0-9]{3,}")
_CJK = re.compile(r"[\u3400-\u9fff]+")
# Within-ticket co-occurrence above this share of the tickets having either term: one symptom.
SAME_SYMPTOM_SHARE = 0.2
MAX_TERMS_PER_TICKET = 12
# The terms in most windows that are paired (the pairs grow with the square of this).
MAX_PAIRED_TERMS = 400


class TicketSymptoms(BaseModel):
    """What the scan reads of one ticket."""

    model_config = ConfigDict(frozen=True)

    key: str
    created_at: datetime
    title: str
    assets: dict[str, str] = Field(default_factory=dict)


class ScanSettings(BaseModel):
    """How the scan cuts time and how strong a co-occurrence must be."""

    window: timedelta = timedelta(hours=1)
    min_support: int = Field(default=3, ge=2)
    min_lift: float = Field(default=3.0, gt=1.0)
    alpha: float = Field(default=0.01, gt=0, lt=1)


class TermPair(BaseModel):
    """Two terms seen in different tickets of the same windows."""

    first: str
    second: str
    support: int = Field(description="Windows in which both were seen in different tickets.")
    lift: float
    p_value: float = Field(description="Chance of at least that many shared windows.")


class ProblemCandidate(BaseModel):
    """Co-occurring symptoms, the tickets that showed them, and what those have in common."""

    fingerprint: str = Field(description="Names the candidate's strongest pair, stable per scan.")
    pairs: list[TermPair]
    terms: list[str]
    tickets: list[str]
    assets: dict[str, list[str]] = Field(
        default_factory=dict, description="Per asset field, the values of at least two tickets."
    )


def symptom_terms(title: str) -> frozenset[str]:
    """The symptom terms of a title: words and 3+ digit numbers, and Chinese character pairs."""
    text = title.lower()
    terms = [w.strip("'.-") for w in _WORD.findall(text)]
    for run in _CJK.findall(text):
        terms += [run[i : i + 2] for i in range(len(run) - 1)] or [run]
    kept = [t for t in dict.fromkeys(terms) if t and t not in STOPWORDS and len(t) > 1]
    return frozenset(kept[:MAX_TERMS_PER_TICKET])


def _window_of(at: datetime, window: timedelta) -> int:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    moment = at if at.tzinfo else at.replace(tzinfo=UTC)
    return int((moment - epoch) / window)


def hypergeometric_tail(population: int, first: int, second: int, shared: int) -> float:
    """P(X >= shared) for X, the overlap of random sets of `first` and `second` of `population`."""
    total = math.comb(population, second)
    top = min(first, second)
    tail = sum(
        math.comb(first, k) * math.comb(population - first, second - k)
        for k in range(shared, top + 1)
    )
    return tail / total


class _Windows:
    """Per window, which tickets have each term."""

    def __init__(self, tickets: Sequence[TicketSymptoms], window: timedelta) -> None:
        self.by_window: dict[int, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        self.tickets_with: dict[str, set[str]] = defaultdict(set)
        for ticket in tickets:
            slot = self.by_window[_window_of(ticket.created_at, window)]
            for term in symptom_terms(ticket.title):
                slot[term].add(ticket.key)
                self.tickets_with[term].add(ticket.key)
        self.windows_of: dict[str, set[int]] = defaultdict(set)
        for index, slot in self.by_window.items():
            for term in slot:
                self.windows_of[term].add(index)

    def shared_windows(self, first: str, second: str) -> list[int]:
        """Windows where the two terms came in different tickets."""
        shared = []
        for index in self.windows_of[first] & self.windows_of[second]:
            having_first = self.by_window[index][first]
            having_second = self.by_window[index][second]
            if any(x != y for x in having_first for y in having_second):
                shared.append(index)
        return sorted(shared)

    def one_symptom(self, first: str, second: str) -> bool:
        """Whether the two terms mostly come in the same tickets (one symptom, two words)."""
        with_first, with_second = self.tickets_with[first], self.tickets_with[second]
        both = len(with_first & with_second)
        return both > SAME_SYMPTOM_SHARE * len(with_first | with_second)


def _pairs(windows: _Windows, settings: ScanSettings) -> list[tuple[TermPair, list[int]]]:
    population = len(windows.by_window)
    eligible = [t for t, w in windows.windows_of.items() if len(w) >= settings.min_support]
    eligible.sort(key=lambda t: (-len(windows.windows_of[t]), t))
    frequent = sorted(eligible[:MAX_PAIRED_TERMS])
    tested = max(math.comb(len(frequent), 2), 1)
    found = []
    for first, second in combinations(frequent, 2):
        if len(windows.windows_of[first] & windows.windows_of[second]) < settings.min_support:
            continue
        shared = windows.shared_windows(first, second)
        if len(shared) < settings.min_support or windows.one_symptom(first, second):
            continue
        n_first, n_second = len(windows.windows_of[first]), len(windows.windows_of[second])
        lift = len(shared) * population / (n_first * n_second)
        if lift < settings.min_lift:
            continue
        p_value = hypergeometric_tail(population, n_first, n_second, len(shared))
        if p_value * tested > settings.alpha:
            continue
        pair = TermPair(
            first=first, second=second, support=len(shared), lift=round(lift, 3), p_value=p_value
        )
        found.append((pair, shared))
    return found


def _groups(
    pairs: list[tuple[TermPair, list[int]]],
) -> list[list[tuple[TermPair, list[int]]]]:
    """Pairs joined through shared terms (connected components)."""
    parent: dict[str, str] = {}

    def root(term: str) -> str:
        while parent.setdefault(term, term) != term:
            term = parent[term]
        return term

    for pair, _shared in pairs:
        parent[root(pair.first)] = root(pair.second)
    grouped: dict[str, list[tuple[TermPair, list[int]]]] = defaultdict(list)
    for entry in pairs:
        grouped[root(entry[0].first)].append(entry)
    return list(grouped.values())


def _shared_assets(tickets: Iterable[TicketSymptoms]) -> dict[str, list[str]]:
    seen: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for ticket in tickets:
        for name, value in ticket.assets.items():
            seen[name][value] += 1
    return {
        name: sorted(v for v, n in counts.items() if n >= 2)
        for name, counts in sorted(seen.items())
        if any(n >= 2 for n in counts.values())
    }


def fingerprint_of(pair: TermPair) -> str:
    """A stable name for a candidate: its strongest pair's terms, hashed."""
    return hashlib.sha256(f"{pair.first}\x00{pair.second}".encode()).hexdigest()[:16]


def find_candidates(
    tickets: Sequence[TicketSymptoms], settings: ScanSettings | None = None
) -> list[ProblemCandidate]:
    """Every problem candidate in these tickets, strongest first."""
    settings = settings or ScanSettings()
    windows = _Windows(tickets, settings.window)
    by_key: Mapping[str, TicketSymptoms] = {t.key: t for t in tickets}
    candidates = []
    for group in _groups(_pairs(windows, settings)):
        terms = sorted({t for pair, _ in group for t in (pair.first, pair.second)})
        keys = {
            key
            for pair, shared in group
            for index in shared
            for term in (pair.first, pair.second)
            for key in windows.by_window[index][term]
        }
        pairs = sorted((p for p, _ in group), key=lambda p: (-p.support, -p.lift, p.first))
        candidates.append(
            ProblemCandidate(
                fingerprint=fingerprint_of(pairs[0]),
                pairs=pairs,
                terms=terms,
                tickets=sorted(keys),
                assets=_shared_assets(by_key[k] for k in keys),
            )
        )
    return sorted(candidates, key=lambda c: (-c.pairs[0].support, -c.pairs[0].lift))


def matches(title: str, terms: Iterable[str]) -> bool:
    """Whether a ticket of this title shows the symptoms of a problem with these terms."""
    own = symptom_terms(title)
    common = own & set(terms)
    return bool(common) and len(common) >= min(2, len(own))


PROBLEM_SCAN_WORKFLOW = "ProblemScanWorkflow"
SCAN_PROBLEMS_ACTIVITY = "scan_problems"


class ProblemScanInput(BaseModel):
    """One scan: the tickets of the last `days`, judged with `settings`."""

    days: int = Field(default=7, ge=1, le=90)
    settings: ScanSettings = Field(default_factory=ScanSettings)


class ProblemScanResult(BaseModel):
    """What one scan found and did."""

    tickets: int
    candidates: int
    proposed: int
    updated: int
