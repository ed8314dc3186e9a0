"""The word lists of the false-hit guard (data only: the rules are in :mod:`.task_facts` and
:mod:`.guards`).

Written as blocks of whitespace-separated words, parsed once at import, so that a list can be
read and extended at a glance; ``key=value`` pairs for tables. Changing a list changes what the
guard refuses: re-run ``benchmarks/run_benchmarks.py -k semantic`` (docs/caching.md).
"""

from __future__ import annotations


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _table(text: str) -> dict[str, str]:
    """``key=value`` pairs; ``_`` in a value stands for a space ("pr=pull_request")."""
    pairs = (item.split("=", 1) for item in text.split())
    return {k: v.replace("_", " ") for k, v in pairs}


def _pairs(text: str) -> list[tuple[str, str]]:
    """One ``a/b`` pair per item, in order."""
    return [(a, b) for a, b in (item.split("/", 1) for item in text.split())]


# number words ("one" and "zero" are left out: "one order", "zero downtime" are rarely
# counts that matter, and "a million" / "one million" must stay equal)
NUMBER_WORDS = _table(
    """
two=2 three=3 four=4 five=5 six=6 seven=7 eight=8 nine=9 ten=10 eleven=11 twelve=12 thirteen=13
fourteen=14 fifteen=15 sixteen=16 seventeen=17 eighteen=18 nineteen=19 twenty=20 thirty=30
forty=40 fifty=50 sixty=60 seventy=70 eighty=80 ninety=90 hundred=100 twice=2 double=2 triple=3
half=0.5 dozen=12 third=3 fourth=4 fifth=5 sixth=6 seventh=7 eighth=8 ninth=9 tenth=10
"""
)

MAGNITUDES = {"thousand": 1e3, "k": 1e3, "million": 1e6, "m": 1e6, "billion": 1e9, "b": 1e9}

# words that negate a task (any word ending in n't counts too)
NEGATIONS = _words(
    """
aren't avoid avoiding can't cannot didn't doesn't don't except exclude excluding hasn't haven't
isn't mustn't neither never no nobody none nor not nothing nowhere omit shouldn't skip wasn't
weren't without won't wouldn't zero
"""
)

# other spellings of the names below
TECH_ALIASES = _table(
    """
golang=go js=javascript node=javascript nodejs=javascript ts=typescript py=python python3=python
postgres=postgresql psql=postgresql mongo=mongodb k8s=kubernetes gh=github sh=bash cpp=c++
csharp=c# yml=yaml rb=ruby
"""
)

# names that change the answer: programming languages, data stores, platforms, tools, formats
TECH = _words(
    """
android angular ansible aws azure bash c# c++ cassandra circleci clojure cobol css csv dart
django docker dynamodb elasticsearch elixir erlang express fastapi flask fortran gcp github
gitlab go graphql grpc haskell helm heroku html http https ios java javascript jax jenkins jest
json julia junit jwt kafka kotlin kubernetes laravel linux lua macos mariadb markdown mocha
mongodb mysql nats numpy oauth oracle pandas perl php postgresql powershell protobuf pytest
python pytorch rabbitmq rails react redis rest ruby rust saml scala soap spring sql sqlite
svelte swift tcp tensorflow terraform toml typescript udp unittest vercel vue websocket windows
xml yaml zsh
"""
)

TECH = TECH | frozenset(TECH_ALIASES)

SINGLE_LETTER_LANGS = {"C": "c", "R": "r"}

# ordinary English words that are also names: they count only when written as the name
AMBIGUOUS_TECH = _table(
    """
go=Go rest=REST react=React express=Express spring=Spring swift=Swift node=Node windows=Windows
rails=Rails helm=Helm jax=JAX rust=Rust ruby=Ruby dart=Dart julia=Julia vue=Vue angular=Angular
flask=Flask oracle=Oracle soap=SOAP express.js=Express
"""
)

# human languages named in a task
HUMAN_LANGUAGES = _words(
    """
arabic bengali cantonese chinese czech danish dutch english finnish french german greek hebrew
hindi indonesian italian japanese korean latin malay mandarin norwegian polish portuguese
russian spanish swedish thai turkish ukrainian vietnamese
"""
)

# periods (a schedule or a grouping): the word and the period it names
PERIODS = _table(
    """
minute=minute minutes=minute minutely=minute hour=hour hours=hour hourly=hour day=day days=day
daily=day nightly=day night=day nights=day week=week weeks=week weekly=week month=month
months=month monthly=month quarter=quarter quarters=quarter quarterly=quarter year=year
years=year yearly=year annual=year annually=year
"""
)

# opposite pairs: a task with one side and the other with the other side never match (in order:
# the first pair found is named in the refusal)
OPPOSITES = _pairs(
    """
add/remove add/delete increase/decrease increase/reduce enable/disable before/after
ascending/descending encrypt/decrypt encode/decode serialize/deserialize compress/decompress
import/export upload/download upper/lower uppercase/lowercase min/max minimum/maximum first/last
sync/async synchronous/asynchronous allow/deny allow/block accept/reject open/close start/stop
install/uninstall include/exclude public/private read/write input/output client/server
frontend/backend left/right horizontal/vertical old/new older/newer more/fewer more/less
faster/slower longer/shorter larger/smaller bigger/smaller higher/lower true/false
success/failure valid/invalid merge/split upgrade/downgrade lock/unlock optimistic/pessimistic
inner/outer above/below inside/outside explain/implement send/receive sent/received raise/reduce
raise/lower partition/merge save/delete create/delete grow/shrink keep/change preserve/change
keep/drop review/write summarize/expand shorten/lengthen simplify/complicate
"""
)

# words that are not content
STOP = _words(
    """
a about again all also an and any are as at be been being by can could did do does done each
every for from further had has have he here how i in into is it its just may me might must my of
on once only onto or our out over own please same shall she should so some than that the their
them then there these they this those to too under up very we what when where which who whom
whose why will with would you your
"""
)

# words that say how to ask, not what (quantifiers, prepositions, generic adjectives and
# verbs): a change among these alone is rewording
GENERIC = _words(
    """
able above accelerate accidentally across add additional adhere after again all also alter
always among analyse analyze another answer anyone appear appears approach architect assess
attempt audit available bad based become becomes before begin below best better between big both
break breaks brief briefly bring build but call calls cause causing certain change check choose
clean clear come common compare comply compose condense configure conform consider contain
contains convert cope correct crash crashes create current currently decide deliver delivers
describe design detail details determine diagnose die dies different document down draft during
each earlier easy either ensure entire evaluate ever every examine execute executes existing
explain extra fail fails fast faster figure find fix follow follows freeze freezes full fully
general generate generates get gets give given gives going good handle handles hang hangs happen
happening happens help hold holds identify if implement improve include inspect inter
intermittently into investigate invoke invokes issue issues keep keeps kind large later less let
like list locate look main make many match matches measure measuring modify move much multiple
need needs new now obey occasionally occur occurred occurs often one onto optimise optimize
option options original other out outline over overview particular per perform performs pick
plan point port possible prepare problem problems produce produces proper properly propose
provide put question quick quickly quite randomly reach reaches really reason recommend refactor
regarding related relevant remain replace resolve respect respects restructure return returns
review rewrite right run runs same scale seem seems select set setup several short shortly show
similar simple simply since small solve someone something sometimes soon sort specific speed
start starts stay stays stick sticks stop stops suggest summarise summarize summary support sure
survive survives sustain swap take takes talk tell then thing things through today tolerate
tolerates track tries try turn turns type under unless until update use using various verify via
want way well whether while whole why within withstand work write yet yield yields
"""
)

# abbreviations written out before words are compared
SYNONYMS = _table(
    """
app=application apps=application repo=repository repos=repository pr=pull_request
prs=pull_request docs=documentation doc=documentation db=database config=configuration
configs=configuration env=environment dict=dictionary spec=specification specs=specification
ms=milliseconds millisecond=milliseconds sec=seconds secs=seconds mins=minutes func=function
fn=function args=arguments arg=argument params=parameters param=parameter auth=authentication
info=information ci=continuous_integration e2e=end_to_end
"""
)

# words that relate two things; swapping what stands on either side changes the request
# ("A instead of B", "B in favour of A"; task_facts._roles reads which side is wanted)
RELATIONS = _words(
    """
but favor favour from instead into over rather replace than versus vs
"""
)

# a few very common words per language, to tell which language a task is written in
LANG_WORDS = {
    "en": _words("add and for in is make of please that the this to with write"),
    "fr": _words("ajoute avec dans des est la le les pas pour que qui sur une écris"),
    "de": _words("das dem den der die ein eine füge für ist mit nicht schreibe und"),
    "es": _words("añade como con del el es escribe las los para por que una"),
    "it": _words("aggiungi che con della gli il non per scrivi una è"),
    "pt": _words("adicione com da do escreva não o os para que uma é"),
    "nl": _words("de een en het is met niet schrijf van voeg voor"),
}

# units after a number ("5 percent" = "5%", "ten minutes" = "10 min")
UNITS = _table(
    """
%=% percent=% pct=% ms=ms millisecond=ms milliseconds=ms s=s sec=s secs=s second=s seconds=s
min=min mins=min minute=min minutes=min h=h hour=h hours=h day=d days=d week=w weeks=w kb=kb
mb=mb gb=gb tb=tb x=x times=x
"""
)
