"""The false-hit guard: facts two tasks must share before one's answer may serve the other (pure).

Sentence embeddings place "fix the bug in parser.py" next to "fix the bug in lexer.py", "sort
ascending" next to "sort descending", and a task next to its own negation: the words that change
the answer are few, and the vectors barely move. So a semantic hit needs, besides a similarity
above the calibrated threshold, that both tasks carry exactly the same:

* numbers (digits, and number words up to the millions: "ten" equals "10");
* identifiers and file names (``snake_case``, ``camelCase``, ``dotted.names``, ``paths/like/this``,
  ``file.ext``, words with digits such as ``v2`` or ``sha256``, ALL-CAPS words), quoted text,
  code spans and URLs;
* negation (whether the task says not/no/never/without/avoid/except…);
* named languages, platforms and tools (Python vs Go, PostgreSQL vs MySQL, French vs German…);
* the natural language the task is written in (an English task never answers a French one);
* opposite verbs and adjectives (add/remove, increase/decrease, before/after, …);

and that neither task is much longer than the other (extra requirements change the answer).
Each rule is written out here rather than learned, so a refusal names its reason.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

MAX_LENGTH_RATIO = 1.8  # content words of the longer task over the shorter (calibrated, see docs)
MIN_LENGTH_SLACK = 3  # short tasks may differ by this many content words regardless of the ratio

# "one" and "zero" are left out: "one order", "zero downtime" are rarely counts that matter, and
# "a million" / "one million" must stay equal
_SMALL = "_ _ two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen"
_NUMBER_WORDS = {w: str(i) for i, w in enumerate(_SMALL.split()) if w != "_"}
_NUMBER_WORDS.update(
    {
        "sixteen": "16",
        "seventeen": "17",
        "eighteen": "18",
        "nineteen": "19",
        "twenty": "20",
        "thirty": "30",
        "forty": "40",
        "fifty": "50",
        "sixty": "60",
        "seventy": "70",
        "eighty": "80",
        "ninety": "90",
        "hundred": "100",
        "twice": "2",
        "double": "2",
        "triple": "3",
        "half": "0.5",
        "dozen": "12",
        "third": "3",
        "fourth": "4",
        "fifth": "5",
        "sixth": "6",
        "seventh": "7",
        "eighth": "8",
        "ninth": "9",
        "tenth": "10",
    }
)
_MAGNITUDES = {"thousand": 1e3, "k": 1e3, "million": 1e6, "m": 1e6, "billion": 1e9, "b": 1e9}
_MAGNITUDE = re.compile(
    r"(?<![\w.])(\d+(?:\.\d+)?)\s*-?\s*(thousand|million|billion|k|m|b)(?![a-z])", re.I
)
_NUMBER = re.compile(r"(?<![\w.])[-+]?\d[\d,_]*(?:\.\d+)*(?:[eE][-+]?\d+)?%?")
_UNIT = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)([a-zA-Z]{1,3})\b")
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.I)
_QUOTED = re.compile(r"`([^`]+)`|\"([^\"]+)\"|“([^”]+)”|'([^'\s][^']*[^'\s])'(?!\w)")
_PATH = re.compile(r"(?:[\w.-]+/)+[\w.-]+|[\w-]+\.[A-Za-z][\w]{0,9}\b")
_SNAKE = re.compile(r"\b\w+_\w+\b")
_CAMEL = re.compile(r"\b[a-z]+[A-Z]\w*\b|\b[A-Z][a-z]+[A-Z]\w*\b")
_ALNUM = re.compile(r"\b(?=\w*[a-zA-Z])(?=\w*\d)\w+\b")
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)

NEGATIONS = frozenset(
    [
        "not",
        "no",
        "never",
        "without",
        "avoid",
        "avoiding",
        "except",
        "excluding",
        "exclude",
        "none",
        "nor",
        "neither",
        "cannot",
        "can't",
        "don't",
        "doesn't",
        "didn't",
        "isn't",
        "aren't",
        "wasn't",
        "weren't",
        "won't",
        "wouldn't",
        "shouldn't",
        "mustn't",
        "haven't",
        "hasn't",
        "nothing",
        "nobody",
        "nowhere",
        "skip",
        "omit",
        "zero",
    ]
)

# names that change the answer: programming languages, data stores, platforms, tools, formats
_TECH_ALIASES = {
    "golang": "go",
    "js": "javascript",
    "node": "javascript",
    "nodejs": "javascript",
    "ts": "typescript",
    "py": "python",
    "python3": "python",
    "postgres": "postgresql",
    "psql": "postgresql",
    "mongo": "mongodb",
    "k8s": "kubernetes",
    "gh": "github",
    "sh": "bash",
    "cpp": "c++",
    "csharp": "c#",
    "yml": "yaml",
    "rb": "ruby",
}
TECH = frozenset(
    [
        "python",
        "javascript",
        "typescript",
        "java",
        "go",
        "rust",
        "ruby",
        "php",
        "kotlin",
        "swift",
        "scala",
        "haskell",
        "elixir",
        "erlang",
        "clojure",
        "perl",
        "lua",
        "dart",
        "julia",
        "fortran",
        "cobol",
        "bash",
        "zsh",
        "powershell",
        "html",
        "css",
        "sql",
        "graphql",
        "c++",
        "c#",
        "postgresql",
        "mysql",
        "mariadb",
        "sqlite",
        "oracle",
        "mongodb",
        "redis",
        "cassandra",
        "dynamodb",
        "elasticsearch",
        "kafka",
        "rabbitmq",
        "nats",
        "docker",
        "kubernetes",
        "helm",
        "terraform",
        "ansible",
        "aws",
        "gcp",
        "azure",
        "heroku",
        "vercel",
        "github",
        "gitlab",
        "jenkins",
        "circleci",
        "django",
        "flask",
        "fastapi",
        "react",
        "vue",
        "angular",
        "svelte",
        "spring",
        "rails",
        "laravel",
        "express",
        "pandas",
        "numpy",
        "pytorch",
        "tensorflow",
        "jax",
        "pytest",
        "unittest",
        "jest",
        "mocha",
        "junit",
        "linux",
        "windows",
        "macos",
        "ios",
        "android",
        "yaml",
        "json",
        "toml",
        "xml",
        "csv",
        "markdown",
        "protobuf",
        "grpc",
        "rest",
        "soap",
        "oauth",
        "jwt",
        "saml",
        "graphql",
        "http",
        "https",
        "tcp",
        "udp",
        "websocket",
    ]
) | frozenset(_TECH_ALIASES)
_SINGLE_LETTER_LANGS = {"C": "c", "R": "r"}
# ordinary English words that are also names: they count only when written as the name
_AMBIGUOUS_TECH = {
    "go": "Go",
    "rest": "REST",
    "react": "React",
    "express": "Express",
    "spring": "Spring",
    "swift": "Swift",
    "node": "Node",
    "windows": "Windows",
    "rails": "Rails",
    "helm": "Helm",
    "jax": "JAX",
    "rust": "Rust",
    "ruby": "Ruby",
    "dart": "Dart",
    "julia": "Julia",
    "vue": "Vue",
    "angular": "Angular",
    "flask": "Flask",
    "oracle": "Oracle",
    "soap": "SOAP",
    "express.js": "Express",
}

HUMAN_LANGUAGES = frozenset(
    [
        "english",
        "french",
        "german",
        "spanish",
        "italian",
        "portuguese",
        "dutch",
        "swedish",
        "norwegian",
        "danish",
        "finnish",
        "polish",
        "czech",
        "russian",
        "ukrainian",
        "greek",
        "turkish",
        "arabic",
        "hebrew",
        "hindi",
        "bengali",
        "chinese",
        "mandarin",
        "cantonese",
        "japanese",
        "korean",
        "vietnamese",
        "thai",
        "indonesian",
        "malay",
        "latin",
    ]
)

_PERIODS = {
    w: p
    for p, words in {
        "minute": "minute minutes minutely",
        "hour": "hour hours hourly",
        "day": "day days daily nightly night nights",
        "week": "week weeks weekly",
        "month": "month months monthly",
        "quarter": "quarter quarters quarterly",
        "year": "year years yearly annual annually",
    }.items()
    for w in words.split()
}

# opposite pairs: a task with one side and the other with the other side never match
_OPPOSITES = [
    ("add", "remove"),
    ("add", "delete"),
    ("increase", "decrease"),
    ("increase", "reduce"),
    ("enable", "disable"),
    ("before", "after"),
    ("ascending", "descending"),
    ("encrypt", "decrypt"),
    ("encode", "decode"),
    ("serialize", "deserialize"),
    ("compress", "decompress"),
    ("import", "export"),
    ("upload", "download"),
    ("upper", "lower"),
    ("uppercase", "lowercase"),
    ("min", "max"),
    ("minimum", "maximum"),
    ("first", "last"),
    ("sync", "async"),
    ("synchronous", "asynchronous"),
    ("allow", "deny"),
    ("allow", "block"),
    ("accept", "reject"),
    ("open", "close"),
    ("start", "stop"),
    ("install", "uninstall"),
    ("include", "exclude"),
    ("public", "private"),
    ("read", "write"),
    ("input", "output"),
    ("client", "server"),
    ("frontend", "backend"),
    ("left", "right"),
    ("horizontal", "vertical"),
    ("old", "new"),
    ("older", "newer"),
    ("more", "fewer"),
    ("more", "less"),
    ("faster", "slower"),
    ("longer", "shorter"),
    ("larger", "smaller"),
    ("bigger", "smaller"),
    ("higher", "lower"),
    ("true", "false"),
    ("success", "failure"),
    ("valid", "invalid"),
    ("merge", "split"),
    ("upgrade", "downgrade"),
    ("lock", "unlock"),
    ("optimistic", "pessimistic"),
    ("inner", "outer"),
    ("above", "below"),
    ("inside", "outside"),
    ("explain", "implement"),
    ("send", "receive"),
    ("sent", "received"),
    ("raise", "reduce"),
    ("raise", "lower"),
    ("partition", "merge"),
    ("save", "delete"),
    ("create", "delete"),
    ("grow", "shrink"),
    ("keep", "change"),
    ("preserve", "change"),
    ("keep", "drop"),
    ("review", "write"),
    ("summarize", "expand"),
    ("shorten", "lengthen"),
    ("simplify", "complicate"),
]

_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "from",
        "by",
        "with",
        "into",
        "onto",
        "about",
        "as",
        "is",
        "are",
        "be",
        "been",
        "being",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "there",
        "here",
        "i",
        "me",
        "my",
        "we",
        "our",
        "you",
        "your",
        "he",
        "she",
        "they",
        "them",
        "their",
        "please",
        "can",
        "could",
        "would",
        "should",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "do",
        "does",
        "did",
        "done",
        "have",
        "has",
        "had",
        "so",
        "then",
        "than",
        "also",
        "just",
        "very",
        "some",
        "any",
        "all",
        "each",
        "every",
        "which",
        "who",
        "whom",
        "whose",
        "what",
        "when",
        "where",
        "why",
        "how",
        "up",
        "out",
        "over",
        "under",
        "again",
        "further",
        "once",
        "only",
        "own",
        "same",
        "too",
    ]
)

# words that say how to ask, not what: a change among these alone is rewording
GENERIC = frozenset(
    [
        "write",
        "create",
        "add",
        "make",
        "draft",
        "compose",
        "produce",
        "prepare",
        "generate",
        "build",
        "implement",
        "design",
        "architect",
        "propose",
        "plan",
        "review",
        "check",
        "look",
        "examine",
        "inspect",
        "audit",
        "assess",
        "evaluate",
        "verify",
        "ensure",
        "sure",
        "analyse",
        "analyze",
        "investigate",
        "find",
        "figure",
        "work",
        "determine",
        "diagnose",
        "identify",
        "locate",
        "track",
        "explain",
        "describe",
        "document",
        "summarise",
        "summarize",
        "condense",
        "list",
        "give",
        "provide",
        "show",
        "tell",
        "suggest",
        "recommend",
        "fix",
        "solve",
        "resolve",
        "improve",
        "optimise",
        "optimize",
        "speed",
        "accelerate",
        "refactor",
        "restructure",
        "clean",
        "rewrite",
        "convert",
        "port",
        "replace",
        "swap",
        "use",
        "using",
        "move",
        "change",
        "modify",
        "alter",
        "update",
        "set",
        "setup",
        "configure",
        "put",
        "get",
        "bring",
        "keep",
        "help",
        "need",
        "want",
        "also",
        "quickly",
        "fully",
        "properly",
        "way",
        "whether",
        "if",
        "but",
        "yet",
        "while",
        "now",
        "out",
        "down",
        "through",
        "over",
        "into",
        "onto",
        "going",
        "come",
        "let",
        "like",
        "new",
        "one",
        "something",
        "thing",
        "things",
        "every",
        "each",
        "all",
        "across",
        "both",
        "either",
        "given",
        "reason",
        "cause",
        "happen",
        "happens",
        "happening",
        "problem",
        "problems",
        "issue",
        "issues",
        "question",
        "answer",
        "why",
        "well",
        "good",
        "bad",
        "better",
        "best",
        "really",
        "simply",
        "simple",
        "easy",
        "using",
        "via",
        "per",
        "within",
        "accidentally",
        "someone",
        "anyone",
        "happen",
        "occur",
        "occurs",
        "occurred",
        "follow",
        "follows",
        "respect",
        "respects",
        "stick",
        "sticks",
        "obey",
        "adhere",
        "conform",
        "comply",
        "match",
        "matches",
        "crash",
        "crashes",
        "die",
        "dies",
        "fail",
        "fails",
        "break",
        "breaks",
        "hang",
        "hangs",
        "freeze",
        "freezes",
        "stop",
        "stops",
        "survive",
        "survives",
        "tolerate",
        "tolerates",
        "withstand",
        "handle",
        "handles",
        "cope",
        "scale",
        "sustain",
        "support",
        "produce",
        "produces",
        "generate",
        "generates",
        "turn",
        "turns",
        "return",
        "returns",
        "give",
        "gives",
        "yield",
        "yields",
        "reach",
        "reaches",
        "get",
        "gets",
        "become",
        "becomes",
        "seem",
        "seems",
        "appear",
        "appears",
        "take",
        "takes",
        "need",
        "needs",
        "run",
        "runs",
        "execute",
        "executes",
        "perform",
        "performs",
        "call",
        "calls",
        "invoke",
        "invokes",
        "start",
        "starts",
        "begin",
        "try",
        "tries",
        "attempt",
        "keep",
        "keeps",
        "remain",
        "stays",
        "stay",
        "hold",
        "holds",
        "contain",
        "contains",
        "include",
        "point",
        "out",
        "detail",
        "details",
        "outline",
        "overview",
        "summary",
        "brief",
        "briefly",
        "short",
        "shortly",
        "quick",
        "always",
        "sometimes",
        "often",
        "occasionally",
        "randomly",
        "intermittently",
        "now",
        "then",
        "again",
        "ever",
        "since",
        "after",
        "before",
        "later",
        "earlier",
        "soon",
        "currently",
        "today",
    ]
)
# more words that carry no subject: quantifiers, prepositions, generic adjectives and verbs
GENERIC = GENERIC | frozenset(
    [
        "other",
        "another",
        "between",
        "among",
        "inter",
        "many",
        "much",
        "several",
        "multiple",
        "various",
        "less",
        "below",
        "above",
        "under",
        "until",
        "unless",
        "during",
        "quite",
        "fast",
        "faster",
        "big",
        "small",
        "large",
        "whole",
        "entire",
        "full",
        "main",
        "certain",
        "specific",
        "particular",
        "general",
        "different",
        "similar",
        "same",
        "available",
        "possible",
        "able",
        "based",
        "regarding",
        "related",
        "relevant",
        "current",
        "existing",
        "additional",
        "extra",
        "common",
        "original",
        "proper",
        "correct",
        "right",
        "clear",
        "measure",
        "measuring",
        "causing",
        "cause",
        "talk",
        "decide",
        "compare",
        "choose",
        "pick",
        "select",
        "deliver",
        "delivers",
        "analyse",
        "analyze",
        "consider",
        "approach",
        "option",
        "options",
        "kind",
        "type",
        "sort",
    ]
)
_SYNONYMS = {
    "app": "application",
    "apps": "application",
    "repo": "repository",
    "repos": "repository",
    "pr": "pull request",
    "prs": "pull request",
    "docs": "documentation",
    "doc": "documentation",
    "db": "database",
    "config": "configuration",
    "configs": "configuration",
    "env": "environment",
    "dict": "dictionary",
    "spec": "specification",
    "specs": "specification",
    "ms": "milliseconds",
    "millisecond": "milliseconds",
    "sec": "seconds",
    "secs": "seconds",
    "mins": "minutes",
    "func": "function",
    "fn": "function",
    "args": "arguments",
    "arg": "argument",
    "params": "parameters",
    "param": "parameter",
    "auth": "authentication",
    "info": "information",
    "ci": "continuous integration",
    "e2e": "end to end",
}
SYNONYM_SIMILARITY = 0.55  # two unmatched words at least this similar count as the same word
# the swap rule applies to "templated" pairs: most specific words shared, one or two swapped
SWAP_MIN_SHARED = 0.5
SWAP_MAX_WORDS = 3
EXTRA_WORDS = 4  # this many specific words on one side only (and at most one on the other)

# a few very common words per language, to tell which language a task is written in
_LANG_WORDS = {
    "en": frozenset(
        [
            "the",
            "and",
            "of",
            "to",
            "is",
            "in",
            "for",
            "with",
            "that",
            "this",
            "please",
            "write",
            "add",
            "make",
        ]
    ),
    "fr": frozenset(
        [
            "le",
            "la",
            "les",
            "des",
            "une",
            "est",
            "pour",
            "avec",
            "dans",
            "que",
            "qui",
            "sur",
            "pas",
            "écris",
            "ajoute",
        ]
    ),
    "de": frozenset(
        [
            "der",
            "die",
            "das",
            "und",
            "ist",
            "nicht",
            "mit",
            "für",
            "ein",
            "eine",
            "den",
            "dem",
            "schreibe",
            "füge",
        ]
    ),
    "es": frozenset(
        [
            "el",
            "los",
            "las",
            "una",
            "es",
            "para",
            "con",
            "que",
            "por",
            "del",
            "escribe",
            "añade",
            "como",
        ]
    ),
    "it": frozenset(
        ["il", "gli", "una", "è", "per", "con", "che", "non", "della", "scrivi", "aggiungi"]
    ),
    "pt": frozenset(
        ["o", "os", "uma", "é", "para", "com", "que", "não", "do", "da", "escreva", "adicione"]
    ),
    "nl": frozenset(
        ["de", "het", "een", "en", "is", "van", "voor", "met", "niet", "schrijf", "voeg"]
    ),
}


def _stem(word: str) -> str:
    w = word.lower()
    for suffix in ("ing", "ed", "es", "s"):
        if len(w) > len(suffix) + 3 and w.endswith(suffix):
            return w[: -len(suffix)]
    return w


@dataclass(frozen=True, slots=True)
class TaskFacts:
    """What a task says that an embedding may not see (the guard compares these)."""

    numbers: frozenset[str]
    identifiers: frozenset[str]
    negated: bool
    tech: frozenset[str]
    languages: frozenset[str]
    written_in: str  # "en", "fr", … or a script name ("cjk", "cyrillic", …), "" when unknown
    words: frozenset[str]  # stemmed content words (for the opposites rule)
    length: int  # content words
    periods: frozenset[str] = frozenset()  # hourly / daily / weekly … (a schedule or a grouping)
    sequence: tuple[str, ...] = ()  # stemmed content words in order
    before: frozenset[str] = frozenset()  # roots of specific words before the first relation word
    after: frozenset[str] = frozenset()  # … and after it
    specific: tuple[str, ...] = ()  # content words that are not GENERIC, as written (lower case)


_UNITS = {
    "%": "%",
    "percent": "%",
    "pct": "%",
    "ms": "ms",
    "millisecond": "ms",
    "milliseconds": "ms",
    "s": "s",
    "sec": "s",
    "secs": "s",
    "second": "s",
    "seconds": "s",
    "min": "min",
    "mins": "min",
    "minute": "min",
    "minutes": "min",
    "h": "h",
    "hour": "h",
    "hours": "h",
    "day": "d",
    "days": "d",
    "week": "w",
    "weeks": "w",
    "kb": "kb",
    "mb": "mb",
    "gb": "gb",
    "tb": "tb",
    "x": "x",
    "times": "x",
}
_UNIT_TOKENS = re.compile(r"\d+(?:\.\d+)?|%|[^\W\d_]+")


def _units(text: str, used: set[str] | None = None) -> set[str]:
    """Numbers with their unit ("5 percent" = "5%", "ten minutes" = "10 min"): the unit counts.

    The unit words found are added to ``used`` (they are compared here, not as words)."""
    out: set[str] = set()
    tokens = _UNIT_TOKENS.findall(text.lower())
    for value, unit in itertools.pairwise(tokens):
        if unit not in _UNITS:
            continue
        if value in _NUMBER_WORDS:
            value = _NUMBER_WORDS[value]
        elif not value[0].isdigit():
            continue
        out.add(f"{_norm_number(value)}{_UNITS[unit]}")
        if used is not None:
            used.add(unit)
    return out


def _norm_number(text: str) -> str:
    t = text.replace(",", "").replace("_", "").rstrip("%")
    try:
        value = float(t)
    except ValueError:
        return text
    return repr(int(value)) if value.is_integer() and "e" not in t.lower() else repr(value)


def _script(text: str) -> str:
    counts: dict[str, int] = {}
    for ch in text:
        if not ch.isalpha():
            continue
        name = unicodedata.name(ch, "")
        for script in ("CJK", "HIRAGANA", "KATAKANA", "HANGUL", "CYRILLIC", "ARABIC", "HEBREW",
                       "GREEK", "DEVANAGARI", "THAI"):  # fmt: skip
            if name.startswith(script):
                counts[script.lower()] = counts.get(script.lower(), 0) + 1
                break
        else:
            counts["latin"] = counts.get("latin", 0) + 1
    if not counts:
        return ""
    return max(counts.items(), key=lambda kv: kv[1])[0]


def _written_in(words: list[str], script: str) -> str:
    if script and script != "latin":
        return script
    scores = {lang: sum(w in vocab for w in words) for lang, vocab in _LANG_WORDS.items()}
    best = max(scores.items(), key=lambda kv: kv[1])
    if best[1] == 0:
        return ""
    tied = [lang for lang, s in scores.items() if s == best[1]]
    return best[0] if len(tied) == 1 else ""


def facts(task: str) -> TaskFacts:
    text = unicodedata.normalize("NFKC", task)
    identifiers: set[str] = set()
    numbers: set[str] = set()
    for m in _MAGNITUDE.finditer(text):  # "200 million", "200M", "5k": one number
        numbers.add(_norm_number(repr(float(m.group(1)) * _MAGNITUDES[m.group(2).lower()])))
    text = _MAGNITUDE.sub(" ", text)
    for m in _UNIT.finditer(text):  # "200ms", "10x", "3NF": a number (and a word), not a name
        numbers.add(_norm_number(m.group(1)))
    text = _UNIT.sub(lambda m: f" {m.group(1)} {m.group(2)} ", text)
    for m in _URL.finditer(text):
        identifiers.add(m.group(0).rstrip(".,;:)").lower())
    rest = _URL.sub(" ", text)
    for m in _QUOTED.finditer(rest):
        quoted = next(g for g in m.groups() if g is not None)
        identifiers.add(" ".join(quoted.split()).lower())
    for pattern in (_PATH, _SNAKE, _CAMEL, _ALNUM):
        for m in pattern.finditer(rest):
            token = m.group(0).strip(".")
            if pattern is _PATH and token.replace(".", "").isdigit():
                continue  # a decimal number, counted below
            if (
                pattern is _PATH
                and "/" not in token
                and token.split(".")[-1].lower()
                in {
                    "e",
                    "g",
                    "i",
                }
            ):
                continue  # e.g. / i.e.
            identifiers.add(token.lower())
    numbers |= {_norm_number(m.group(0)) for m in _NUMBER.finditer(rest)}
    raw_words = [w.lower() for w in _WORD.findall(rest)]
    if any(w in ("thousand", "million", "billion") for w in raw_words):
        numbers |= {
            repr(int(_MAGNITUDES[w])) for w in raw_words if w in ("thousand", "million", "billion")
        }
    numbers |= {_NUMBER_WORDS[w] for w in raw_words if w in _NUMBER_WORDS}
    unit_words: set[str] = set()
    numbers |= _units(text, unit_words)
    tech: set[str] = set()
    for m in re.finditer(r"[\w+#']+", rest):
        t, low = m.group(0), m.group(0).lower()
        if low not in TECH:
            continue
        if low in _AMBIGUOUS_TECH:
            before = rest[: m.start()].rstrip()
            if t != _AMBIGUOUS_TECH[low] or not before or before[-1] in ".!?;:":
                continue  # "go through", "React now", or the first word of a sentence
        tech.add(_TECH_ALIASES.get(low, low))
    tech |= {
        v for k, v in _SINGLE_LETTER_LANGS.items() if re.search(rf"(?<![\w']){k}(?![\w+#'])", rest)
    }
    languages = {w for w in raw_words if w in HUMAN_LANGUAGES}
    negated = any(w in NEGATIONS or w.endswith("n't") for w in raw_words)
    canon = " ".join(_SYNONYMS.get(w, w) for w in raw_words).split()
    cut = next((i for i, w in enumerate(canon) if w in RELATIONS), None)
    if cut is not None and canon[cut] == "replace":  # "replace A with B": the roles turn on "with"
        cut = next((i for i in range(cut + 1, len(canon)) if canon[i] == "with"), None)
    content = [w for w in canon if w not in _STOP and w not in NEGATIONS]
    return TaskFacts(
        numbers=frozenset(numbers),
        identifiers=frozenset(identifiers),
        negated=negated,
        tech=frozenset(tech),
        languages=frozenset(languages),
        written_in=_written_in(raw_words, _script(rest)),
        words=frozenset(_stem(w) for w in content),
        length=len(content),
        periods=frozenset(_PERIODS[w] for w in raw_words if w in _PERIODS),
        sequence=tuple(_stem(w) for w in content),
        before=_roots(canon[:cut]) if cut is not None else frozenset(),
        after=_roots(canon[cut + 1 :]) if cut is not None else frozenset(),
        specific=tuple(
            dict.fromkeys(
                w
                for w in content
                if w not in GENERIC
                and _stem(w) not in _GENERIC_STEMS
                and w not in _NUMBER_WORDS
                and w not in _MAGNITUDES
                and w not in unit_words
            )
        ),
    )


_GENERIC_STEMS = frozenset(_stem(w) for w in GENERIC)
# words that relate two things; swapping what stands on either side changes the request
RELATIONS = frozenset(
    ["instead", "rather", "than", "into", "from", "but", "versus", "vs", "over", "replace"]
)


def _roots(words: list[str]) -> frozenset[str]:
    return frozenset(
        _root(w) for w in words if w not in _STOP and w not in NEGATIONS and w not in RELATIONS
    )


def _swapped(new: TaskFacts, cached: TaskFacts) -> bool:
    """Roles swapped around a relation word: "A instead of B" / "B instead of A"."""
    if not (new.before or new.after) or not (cached.before or cached.after):
        return False
    return bool(new.before & cached.after) and bool(new.after & cached.before)


def _root(word: str) -> str:
    """A crude morphological root: the first 5 letters of the stem ("normalise" ~ "normalize",
    "month" ~ "monthly", "deploy" ~ "deployment")."""
    return _stem(word.split("'")[0])[:5]


def unmatched(new: TaskFacts, cached: TaskFacts) -> tuple[list[str], list[str]]:
    """Specific words of each task that the other lacks (compared by their root)."""
    a = {_root(w) for w in new.specific}
    b = {_root(w) for w in cached.specific}
    return [w for w in new.specific if _root(w) not in b], [
        w for w in cached.specific if _root(w) not in a
    ]


def _opposite(words_a: frozenset[str], words_b: frozenset[str]) -> tuple[str, str] | None:
    a = frozenset(_root(w) for w in words_a)  # roots: "changing" ~ "change", "kept" aside
    b = frozenset(_root(w) for w in words_b)
    for x, y in _OPPOSITES:
        sx, sy = _root(x), _root(y)
        if sx in a and sy in b and sx not in b and sy not in a:
            return x, y
        if sy in a and sx in b and sy not in b and sx not in a:
            return y, x
    return None


def refusal(
    new: TaskFacts,
    cached: TaskFacts,
    similarity: Callable[[list[str], list[str]], list[list[float]]] | None = None,
) -> str | None:
    """Why the cached task's answer must not serve the new task, or ``None`` when it may.

    ``similarity(words_a, words_b)`` — the embedding similarity of single words — lets a swapped
    word pass when it is a synonym ("flaws" / "vulnerabilities"); without it, any swapped
    specific word refuses.
    """
    if new.numbers != cached.numbers:
        return "different numbers"
    if new.identifiers != cached.identifiers:
        return "different identifiers or file names"
    if new.negated != cached.negated:
        return "negation differs"
    if new.tech != cached.tech:
        return "different languages, platforms or tools"
    if new.periods != cached.periods:
        return "different periods (hourly, daily, weekly …)"
    if new.languages != cached.languages:
        return "different human languages named"
    if new.written_in and cached.written_in and new.written_in != cached.written_in:
        return "written in different languages"
    pair = _opposite(new.words, cached.words)
    if (
        pair is None and new.sequence and cached.sequence
    ):  # the leading verbs: "merge" / "partition"
        pair = _opposite(frozenset(new.sequence[:1]), frozenset(cached.sequence[:1]))
    if pair is not None:
        return f"opposite wording ({pair[0]} / {pair[1]})"
    short, long_ = sorted((new.length, cached.length))
    if long_ - short > MIN_LENGTH_SLACK and long_ > MAX_LENGTH_RATIO * max(short, 1):
        return "one task asks for much more than the other"
    if _swapped(new, cached):
        return "the same things in swapped roles"
    only_new, only_cached = unmatched(new, cached)
    shared = len({_root(w) for w in new.specific} & {_root(w) for w in cached.specific})
    few, many = sorted((len(only_new), len(only_cached)))
    if many >= EXTRA_WORDS and few <= 1:
        return "one task asks for more than the other"
    templated = shared >= SWAP_MIN_SHARED * (shared + max(len(only_new), len(only_cached)))
    if only_new and only_cached and templated and many <= SWAP_MAX_WORDS:
        left = list(only_cached)
        if similarity is not None:
            sims = similarity(only_new, only_cached)
            for i in range(len(only_new)):
                best = max(range(len(only_cached)), key=lambda j: sims[i][j])
                if sims[i][best] >= SYNONYM_SIMILARITY and only_cached[best] in left:
                    left.remove(only_cached[best])
            rest_new = [w for i, w in enumerate(only_new) if max(sims[i]) < SYNONYM_SIMILARITY]
        else:
            rest_new = only_new
        if rest_new and left:
            return f"different subject ({' '.join(rest_new)} / {' '.join(left)})"
    return None


def check(
    new_task: str,
    cached_task: str,
    similarity: Callable[[list[str], list[str]], list[list[float]]] | None = None,
) -> str | None:
    return refusal(facts(new_task), facts(cached_task), similarity)
