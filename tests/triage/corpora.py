"""Generated labelled corpora for model selection and evidence tests (seeded, so repeatable)."""

from __future__ import annotations

import random

from domain.triage import TriageTicket
from triage.training import Example

GENERIC = [
    "please",
    "help",
    "my",
    "the",
    "a",
    "with",
    "i",
    "need",
    "to",
    "can",
    "you",
    "how",
    "do",
    "want",
]
# Overlapping alphabets: each intent's words are random strings over its own letters, so only
# character n-grams carry the intent (no word repeats often enough to be learnt).
ALPHABETS = ("abcdefgh", "cdefghij", "efghijkl", "ghijklmn", "ijklmnop", "klmnopqr")


def character_pattern_corpus(seed: int, per_intent: int = 90) -> list[Example]:
    """Short intent-style queries whose intent shows only in their characters."""
    rng = random.Random(seed)
    examples = []
    for intent, alphabet in enumerate(ALPHABETS):
        for _ in range(per_intent):
            words = [
                "".join(rng.choice(alphabet) for _ in range(rng.randint(4, 7))) for _ in range(2)
            ]
            words += rng.sample(GENERIC, 3)
            rng.shuffle(words)
            examples.append(Example(TriageTicket(description=" ".join(words)), f"intent-{intent}"))
    rng.shuffle(examples)
    return examples


# Customer-service intents, each with its own words; the small talk around them is shared.
INTENT_WORDS = {
    "refunds": ["refund", "money back", "reimburse", "returned item", "charged twice"],
    "cards": ["card declined", "card blocked", "pin", "contactless", "new card"],
    "passwords": ["password reset", "locked out", "login fails", "two factor", "forgot password"],
    "delivery": ["parcel", "delivery late", "tracking number", "courier", "package missing"],
    "phone": ["phone bill", "call drops", "sim card", "roaming", "voicemail"],
    "address": ["change address", "moved house", "postcode", "billing address", "new address"],
}
SMALL_TALK = [
    "hello",
    "hi",
    "please",
    "thanks",
    "something is odd",
    "can you check",
    "as soon as possible",
    "i have a question",
    "good morning",
    "it does not work",
    "please call me",
    "help",
]
VAGUE_AND_OFF_TOPIC = [
    "hello, something is odd, please call me",
    "hi",
    "help",
    "it does not work",
    "please call me",
    "good morning, i have a question",
    "thanks",
    "can you check as soon as possible",
    "what is the weather tomorrow",
    "who won the football match yesterday",
    "tell me a joke",
    "asdf qwerty",
]


def intent_corpus(seed: int, per_intent: int = 100) -> list[Example]:
    """Queries of two intent phrases wrapped in shared small talk."""
    rng = random.Random(seed)
    examples = []
    for intent, phrases in INTENT_WORDS.items():
        for _ in range(per_intent):
            parts = rng.sample(phrases, 2) + rng.sample(SMALL_TALK, rng.randint(1, 3))
            rng.shuffle(parts)
            examples.append(Example(TriageTicket(description=" ".join(parts)), intent))
    rng.shuffle(examples)
    return examples
