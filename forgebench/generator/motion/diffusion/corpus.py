"""A text-to-speech training corpus that forgebench makes itself: varied sentences, several speaking styles.

Sentences come from templates filled from word lists written for this project (no copyrighted
text), so any number of distinct utterances can be drawn from a seed. Each utterance is spoken by
an installed Piper voice (:func:`forgebench.media.tts.synthesize`) in a random speaking style
(:func:`forgebench.media.tts.random_variant`: rate, noise, pitch/formant shift). All styles are
variations of ONE recorded speaker, so audio diversity is limited; the model card says so.

Synthesised utterances are cached under ``$FORGEBENCH_HOME/motion_corpus/`` keyed by text, voice,
style and seed (audio as float32 ``.npy``, phoneme timings as JSON), so repeated training runs do
not re-synthesise.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from forgebench.atomic import atomic_output

SUBJECTS = [
    "the old farmer", "my sister", "a quiet student", "the new teacher", "our neighbour", "the pilot",
    "a tired doctor", "the young painter", "everyone here", "the small team", "my best friend", "the captain",
    "a curious child", "the baker", "this company", "the orchestra", "a local writer", "the night nurse",
]
VERBS = [
    "carried", "painted", "opened", "found", "fixed", "watched", "remembered", "borrowed", "measured", "described",
    "planted", "followed", "noticed", "repaired", "delivered", "ordered", "explained", "cooked", "folded", "sold",
]
OBJECTS = [
    "a yellow umbrella", "the broken window", "seven blue boxes", "a map of the valley", "the morning paper",
    "a warm loaf of bread", "the heavy wooden chair", "an empty bottle", "the garden gate", "a pair of boots",
    "the silver key", "three paper lanterns", "a box of old photographs", "the kitchen clock", "a basket of apples",
    "the long letter", "a tiny green frog", "the village bell", "a cup of hot cocoa", "the spare tyre",
]
PLACES = [
    "near the harbour", "before lunch", "after the storm", "at the edge of town", "on Thursday morning",
    "under the bridge", "behind the school", "in the late evening", "during the festival", "by the river",
    "at the top of the hill", "inside the museum", "on the way home", "in the middle of winter", "next to the station",
]
OPENERS = [
    "Honestly,", "Yesterday", "Believe it or not,", "Last summer", "Every Monday", "Of course,", "Suddenly",
    "As far as I know,", "Well,", "To be fair,", "Right now", "Later that week",
]
QUESTIONS = [
    "Do you think {s} {v} {o} {p}?", "Why would {s} leave {o} {p}?", "Have you ever seen {o} {p}?",
    "Who {v} {o} {p}?", "Is it true that {s} {v} {o}?",
]
STATEMENTS = [
    "{s} {v} {o} {p}.", "{O} {s} {v} {o}.", "{O} {s} {v} {o} {p}, and nobody said a word.",
    "I think {s} {v} {o} {p}.", "{s} {v} {o}, then {v2} {o2} {p}.", "{O} we {v} {o} {p}.",
    "It was {s} who {v} {o} {p}!", "{s} never {v} {o}, but {s2} did.", "Please bring {o} {p}.",
    "We were surprised that {s} {v} {o} so quickly.",
]
NUMBERS = ["one", "two", "eleven", "forty", "ninety nine", "a hundred", "twelve", "three thousand"]
EXTRAS = [
    "The total came to {n} dollars.", "It took about {n} minutes.", "That happened {n} times in a row.",
    "Thank you very much.", "Let me think about that for a moment.", "Okay, let's begin.",
    "That is absolutely wonderful news!", "No, no, that is not what I meant.",
]


def sentence(rng: np.random.Generator) -> str:
    """One random sentence from the templates."""
    def pick(xs: list[str]) -> str:
        return xs[int(rng.integers(len(xs)))]

    kind = rng.random()
    if kind < 0.2:
        template = pick(QUESTIONS)
    elif kind < 0.3:
        template = pick(EXTRAS)
    else:
        template = pick(STATEMENTS)
    text = template.format(
        s=pick(SUBJECTS), s2=pick(SUBJECTS), v=pick(VERBS), v2=pick(VERBS), o=pick(OBJECTS), o2=pick(OBJECTS),
        p=pick(PLACES), O=pick(OPENERS), n=pick(NUMBERS),
    )
    return text[0].upper() + text[1:]


def paragraph(rng: np.random.Generator, n_sentences: int) -> str:
    return " ".join(sentence(rng) for _ in range(n_sentences))


@dataclass
class Utterance:
    """One synthesised utterance: 16 kHz audio, phoneme rows (token, start s, end s), its text and style."""

    audio: np.ndarray
    phonemes: list[tuple[str, float, float]]
    text: str
    style: dict


def _cache_dir() -> Path:
    from forgebench.paths import forgebench_home

    return forgebench_home() / "motion_corpus"


def synthesize_utterance(text: str, voice: str, style: dict, seed: int, cache: bool = True) -> Utterance:
    """Speak ``text`` (cached by text, voice, style, seed and the piper version)."""
    from forgebench.media.tts import piper_version, synthesize

    key = json.dumps({"t": text, "v": voice, "s": style, "seed": seed, "piper": piper_version()}, sort_keys=True)
    h = hashlib.sha256(key.encode()).hexdigest()[:24]
    wav, meta = _cache_dir() / f"{h}.npy", _cache_dir() / f"{h}.json"
    if cache and wav.is_file() and meta.is_file():
        info = json.loads(meta.read_text())
        return Utterance(np.load(wav, allow_pickle=False), [tuple(p) for p in info["phonemes"]], text, style)
    speech = synthesize(text, voice, seed=seed, **style)
    utt = Utterance(speech.audio, [(str(p), float(s), float(e)) for p, s, e in speech.phonemes], text, style)
    if cache:
        wav.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(wav) as tmp, open(tmp, "wb") as fh:
            np.save(fh, utt.audio.astype(np.float32), allow_pickle=False)
        with atomic_output(meta) as tmp:
            tmp.write_text(json.dumps({"text": text, "style": style, "phonemes": utt.phonemes}))
    return utt


def tts_corpus(n: int, seed: int = 0, voice: str = "joe", sentences: tuple[int, int] = (2, 4)) -> Iterator[Utterance]:
    """``n`` utterances of ``sentences`` sentences each, in random speaking styles, deterministic in ``seed``."""
    from forgebench.media.tts import random_variant

    rng = np.random.default_rng([seed, 99])
    for i in range(n):
        text = paragraph(rng, int(rng.integers(sentences[0], sentences[1] + 1)))
        style = random_variant(rng).kwargs()
        yield synthesize_utterance(text, voice, style, seed=int(seed * 100_003 + i))
