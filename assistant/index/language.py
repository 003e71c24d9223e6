"""Which language a question is in, from its function words: enough to choose a keyword stemmer
and the language of an answer's notes, for questions of a few words, with no model.

Each language has a short list of its most frequent function words; a text's language is the one
whose words it uses most, when that is at least one word more than any other (a tie, or no
function word at all, is None: unknown, treated as the archive's own language). Words the
languages share ("de", "la", "a", "que") are listed under each of them and cancel out.

Why not a package: langdetect is random on short texts unless seeded and often wrong on a few
words; fastText's language model is a download from a hub; both know a hundred languages where
the keyword index stems six. This one is measured on the cross-lingual question set
(evals/crosslingual/: every English, French and Spanish question there is told apart).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    code: str  # ISO 639-1
    name: str  # in English, for prompts ("Answer in French.")
    stemmer: str  # PyStemmer's algorithm
    words: frozenset[str]  # frequent function words, lower case


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


LANGUAGES: dict[str, Language] = {lang.code: lang for lang in (
    Language("en", "English", "english", _words(
        "the of and to in is was are were be been has have had it its this that these those with for "
        "on at by from which who whom whose what when where why how did does do not an or as but after "
        "about into than their they he she his her will would t")),
    Language("fr", "French", "french", _words(
        "le la les un une des du de et est sont été a ont au aux ce cette ces qui que quoi quel quelle "
        "quels quelles où pourquoi comment combien dans pour par sur avec sans ne pas plus il elle ils "
        "elles leur leurs son sa ses fait lors selon entre mais ou on en l d qu n c j")),
    Language("es", "Spanish", "spanish", _words(
        "el la los las un una unos unas del de y es son fue fueron ha han se su sus al que qué quién "
        "quiénes cuál cuáles dónde cuándo cómo cuántos cuántas por qué para con sin en no más este esta "
        "estos estas ese esa lo le les entre pero o según durante a")),
    Language("de", "German", "german", _words(
        "der die das den dem des ein eine einen einem und ist sind war wurde wurden hat haben nicht "
        "mit von zu im in auf für wer was wann wo warum wie welche welcher welches auch sich bei nach")),
    Language("pt", "Portuguese", "portuguese", _words(
        "o a os as um uma uns umas do da dos das de e é são foi foram tem têm se seu sua seus suas ao "
        "que quem qual quais onde quando como quantos por para com sem em no na nos nas não mais este "
        "esta isso")),
    Language("it", "Italian", "italian", _words(
        "il lo la i gli le un una uno del della dei degli delle di e è sono era fu ha hanno si suo sua "
        "che chi quale quali dove quando come quanti perché per con senza in nel nella non più questo "
        "questa")),
)}

_WORD = re.compile(r"(?u)\b\w+\b")
# Marks only one of the languages uses: Spanish's opening ¿ and ¡, and French's euphonic t
# ("prépare-t-on", "a-t-il"), which would otherwise read as English's "t" (from "don't").
_MARKS = ((re.compile(r"[¿¡]"), "es"), (re.compile(r"(?i)-t-(?=(?:il|elle|on|ils|elles)\b)"), "fr"))


def detect(text: str) -> str | None:
    """The language code of `text` (en, fr, es, de, pt, it), or None when its function words do
    not tell. Elisions count as their word: "l'ONU" -> "l", "qu'a" -> "qu"."""
    marks = {}
    for mark, code in _MARKS:
        text, marks[code] = mark.subn(" ", text)
    words = [w.lower() for w in _WORD.findall(text.replace("’", "'").replace("'", " "))]
    counts = sorted(((sum(w in lang.words for w in words) + marks.get(code, 0), code)
                     for code, lang in LANGUAGES.items()), reverse=True)
    (best, code), (second, _) = counts[0], counts[1]
    return code if best > second else None


def language(code: str | None) -> Language | None:
    return LANGUAGES.get(code or "")


# An answer quoting the documents, to a question in another language, says so in the question's
# language: first where the quotations are English, then where they are in yet another language.
QUOTED_NOTE: dict[str, tuple[str, str]] = {
    "fr": ("Les passages cités sont en anglais, la langue des documents.",
           "Les passages cités sont dans la langue des documents."),
    "es": ("Los pasajes citados están en inglés, el idioma de los documentos.",
           "Los pasajes citados están en el idioma de los documentos."),
    "de": ("Die zitierten Stellen sind auf Englisch, der Sprache der Dokumente.",
           "Die zitierten Stellen sind in der Sprache der Dokumente."),
    "pt": ("Os trechos citados estão em inglês, a língua dos documentos.",
           "Os trechos citados estão na língua dos documentos."),
    "it": ("I passi citati sono in inglese, la lingua dei documenti.",
           "I passi citati sono nella lingua dei documenti."),
}


def quoted_note(question: str, quotes: str) -> str:
    """The sentence an answer quoting `quotes` adds for `question`: "" when both are in one
    language, either is unknown, or the question is English (English answers stay as they were)."""
    asked, quoted = detect(question), detect(quotes)
    if asked is None or quoted is None or asked == quoted or asked not in QUOTED_NOTE:
        return ""
    english, other = QUOTED_NOTE[asked]
    return english if quoted == "en" else other
