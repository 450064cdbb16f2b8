"""Deterministic synthetic residents for the replica (副本) of the resident register.

`generate_replica` fills a municipality's replica with households and residents that a clerk would
take for real: common surnames and given names of the bearer's generation with their readings,
household shapes as printed on a 住民票 (single, couple, children, three generations, single parent,
同居人), 本籍 and 筆頭者 consistent with the family, and the cases that break naive code: variant
kanji stored as IVS or as separate code points, foreign residents with and without 通称, children
under 15, women with a 旧氏, and 支援措置 targets. `hard_cases` picks one named example of each.

The same seed always yields the same people: every random choice comes from one
`random.Random(seed)` and ages are reckoned from `REFERENCE_DATE`, never from today.
"""

import datetime
import random
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from django.db import transaction

from madoguchi.registry.models import Household, Resident, Sex
from madoguchi.tenancy.models import Municipality

from .synthetic_records import generate_records

REFERENCE_DATE = datetime.date(2026, 4, 1)
DEFAULT_SEED = 20261123

# (written form, reading): kanji and hiragana for Japanese names, Latin capitals and katakana for
# names from a residence card.
Reading = tuple[str, str]
T = TypeVar("T")

HEAD = "世帯主"

# Ordered by frequency; weights fall off with rank so 佐藤 and 鈴木 are common and 森田 is not.
_SURNAMES: tuple[Reading, ...] = (
    ("佐藤", "さとう"), ("鈴木", "すずき"), ("高橋", "たかはし"), ("田中", "たなか"),
    ("伊藤", "いとう"), ("渡辺", "わたなべ"), ("山本", "やまもと"), ("中村", "なかむら"),
    ("小林", "こばやし"), ("加藤", "かとう"), ("吉田", "よしだ"), ("山田", "やまだ"),
    ("佐々木", "ささき"), ("山口", "やまぐち"), ("松本", "まつもと"), ("井上", "いのうえ"),
    ("木村", "きむら"), ("林", "はやし"), ("斎藤", "さいとう"), ("清水", "しみず"),
    ("山崎", "やまざき"), ("森", "もり"), ("池田", "いけだ"), ("橋本", "はしもと"),
    ("阿部", "あべ"), ("石川", "いしかわ"), ("山下", "やました"), ("中島", "なかじま"),
    ("石井", "いしい"), ("小川", "おがわ"), ("前田", "まえだ"), ("岡田", "おかだ"),
    ("長谷川", "はせがわ"), ("藤田", "ふじた"), ("後藤", "ごとう"), ("近藤", "こんどう"),
    ("村上", "むらかみ"), ("遠藤", "えんどう"), ("青木", "あおき"), ("坂本", "さかもと"),
    ("斉藤", "さいとう"), ("福田", "ふくだ"), ("太田", "おおた"), ("西村", "にしむら"),
    ("藤井", "ふじい"), ("金子", "かねこ"), ("岡本", "おかもと"), ("藤原", "ふじわら"),
    ("中野", "なかの"), ("三浦", "みうら"), ("原田", "はらだ"), ("中川", "なかがわ"),
    ("松田", "まつだ"), ("竹内", "たけうち"), ("小野", "おの"), ("田村", "たむら"),
    ("中山", "なかやま"), ("和田", "わだ"), ("石田", "いしだ"), ("森田", "もりた"),
)
_SURNAME_WEIGHTS = tuple(1 / (rank + 10) for rank in range(len(_SURNAMES)))

# Surnames recorded with a variant glyph. 住民記録 systems use the MJ character set, so the IVS are
# those of the Moji_Joho collection in the Ideographic Variation Database, which IPAmj明朝 carries:
# 葛 U+845B with U+E0102 (MJ022335) and U+E0103 (MJ022336); 辻 U+8FBB with U+E0102 (MJ025760, the
# one-dot form) and U+E0103 (MJ025761, two dots like plain 辻). 邊 邉 髙 齋 are separate unified
# ideographs and 﨑 U+FA11 sits in the compatibility block but has no decomposition, so
# normalization leaves all of them alone.
_VARIANT_SURNAMES: tuple[Reading, ...] = (
    ("葛\U000e0102城", "かつらぎ"), ("葛\U000e0103西", "かさい"),
    ("辻\U000e0102", "つじ"), ("辻\U000e0103本", "つじもと"),
    ("渡邊", "わたなべ"), ("渡邉", "わたなべ"), ("髙橋", "たかはし"), ("髙橋", "たかはし"),
    ("髙田", "たかだ"), ("山\ufa11", "やまさき"), ("宮\ufa11", "みやざき"), ("齋藤", "さいとう"),
)
# Each variant surname goes to one founding Japanese family in every round of this many.
_SURNAME_ROUND = 100

# Given names by the last birth year of the generation that favoured them: (until, male, female).
_GIVEN_NAMES: tuple[tuple[int, tuple[Reading, ...], tuple[Reading, ...]], ...] = (
    (1954,
     (("清", "きよし"), ("茂", "しげる"), ("博", "ひろし"), ("勇", "いさむ"), ("実", "みのる"),
      ("進", "すすむ"), ("正", "ただし"), ("勝", "まさる"), ("昭", "あきら"), ("修", "おさむ"),
      ("正雄", "まさお"), ("和夫", "かずお"), ("武", "たけし"), ("三郎", "さぶろう"), ("稔", "みのる")),
     (("和子", "かずこ"), ("幸子", "さちこ"), ("節子", "せつこ"), ("洋子", "ようこ"), ("恵美子", "えみこ"),
      ("京子", "きょうこ"), ("久子", "ひさこ"), ("美智子", "みちこ"), ("悦子", "えつこ"),
      ("弘子", "ひろこ"), ("良子", "よしこ"), ("文子", "ふみこ"), ("照子", "てるこ"), ("光子", "みつこ"),
      ("和江", "かずえ"))),
    (1979,
     (("誠", "まこと"), ("健一", "けんいち"), ("浩", "ひろし"), ("隆", "たかし"), ("哲也", "てつや"),
      ("直樹", "なおき"), ("剛", "つよし"), ("聡", "さとし"), ("浩二", "こうじ"), ("秀樹", "ひでき"),
      ("伸一", "しんいち"), ("孝", "たかし"), ("明", "あきら"), ("学", "まなぶ"), ("博之", "ひろゆき")),
     (("恵子", "けいこ"), ("裕子", "ゆうこ"), ("久美子", "くみこ"), ("由美子", "ゆみこ"),
      ("真由美", "まゆみ"), ("智子", "ともこ"), ("陽子", "ようこ"), ("直美", "なおみ"), ("明美", "あけみ"),
      ("典子", "のりこ"), ("美香", "みか"), ("由美", "ゆみ"), ("純子", "じゅんこ"), ("恵美", "えみ"),
      ("さゆり", "さゆり"))),
    (1999,
     (("大輔", "だいすけ"), ("翔太", "しょうた"), ("拓也", "たくや"), ("健太", "けんた"),
      ("達也", "たつや"), ("和也", "かずや"), ("大樹", "だいき"), ("翔", "しょう"), ("拓海", "たくみ"),
      ("亮", "りょう"), ("雄太", "ゆうた"), ("直人", "なおと"), ("優", "ゆう"), ("康平", "こうへい"),
      ("匠", "たくみ")),
     (("愛", "あい"), ("彩", "あや"), ("麻衣", "まい"), ("香織", "かおり"), ("美穂", "みほ"),
      ("恵", "めぐみ"), ("沙織", "さおり"), ("舞", "まい"), ("千尋", "ちひろ"), ("彩香", "あやか"),
      ("美咲", "みさき"), ("明日香", "あすか"), ("遥", "はるか"), ("萌", "もえ"), ("七海", "ななみ"))),
    (9999,
     (("蓮", "れん"), ("陽翔", "はると"), ("湊", "みなと"), ("蒼", "あおい"), ("樹", "いつき"),
      ("大翔", "ひろと"), ("悠真", "ゆうま"), ("颯太", "そうた"), ("陽太", "ようた"), ("大和", "やまと"),
      ("悠人", "ゆうと"), ("朝陽", "あさひ"), ("律", "りつ"), ("碧", "あお"), ("蒼空", "そら")),
     (("陽葵", "ひまり"), ("結衣", "ゆい"), ("凛", "りん"), ("芽依", "めい"), ("葵", "あおい"),
      ("紬", "つむぎ"), ("結菜", "ゆいな"), ("咲良", "さくら"), ("美桜", "みお"), ("莉子", "りこ"),
      ("杏", "あん"), ("心春", "こはる"), ("さくら", "さくら"), ("陽菜", "ひな"), ("花", "はな"))),
)


@dataclass(frozen=True)
class _ForeignNames:
    nationality: str
    weight: int
    surnames: tuple[Reading, ...]
    male: tuple[Reading, ...]
    female: tuple[Reading, ...]
    # Whether a wife takes her husband's surname (children always take the father's).
    wife_takes_surname: bool
    adult_ages: tuple[int, int] = (20, 38)
    # Whether the name a person goes by is the last word of the given names (Vietnamese middle names).
    called_by_last_name: bool = False


# Names as on a residence card: surname first, in capitals; the reading in katakana.
_FOREIGN_NAMES: tuple[_ForeignNames, ...] = (
    _ForeignNames(
        "ベトナム", 26,
        (("NGUYEN", "グエン"), ("TRAN", "チャン"), ("LE", "レ"), ("PHAM", "ファム"), ("HOANG", "ホアン"),
         ("VU", "ヴー")),
        (("VAN AN", "ヴァン アン"), ("VAN DUC", "ヴァン ドゥック"), ("VAN HUNG", "ヴァン フン"),
         ("DUC MINH", "ドゥック ミン"), ("VAN NAM", "ヴァン ナム"), ("MINH TUAN", "ミン トゥアン")),
        (("THI HOA", "ティ ホア"), ("THI LAN", "ティ ラン"), ("THI LINH", "ティ リン"),
         ("THI MAI", "ティ マイ"), ("THI THAO", "ティ タオ"), ("THU HUONG", "トゥ フオン")),
        wife_takes_surname=False, called_by_last_name=True),
    _ForeignNames(
        "中国", 28,
        (("WANG", "ワン"), ("LI", "リー"), ("ZHANG", "チャン"), ("LIU", "リウ"), ("CHEN", "チェン"),
         ("YANG", "ヤン"), ("ZHAO", "チャオ")),
        (("WEI", "ウェイ"), ("HAO", "ハオ"), ("JIAN", "ジエン"), ("LEI", "レイ"), ("QIANG", "チアン"),
         ("YU", "ユー")),
        (("NA", "ナー"), ("FANG", "ファン"), ("JING", "ジン"), ("YAN", "イエン"), ("MIN", "ミン"),
         ("XIN", "シン")),
        wife_takes_surname=False),
    _ForeignNames(
        "韓国", 14,
        (("KIM", "キム"), ("PARK", "パク"), ("LEE", "イ"), ("CHOI", "チェ"), ("JUNG", "チョン")),
        (("MINJUN", "ミンジュン"), ("JIHOON", "ジフン"), ("SEUNGHO", "スンホ"), ("YOUNGSOO", "ヨンス")),
        (("SEOYEON", "ソヨン"), ("JIWOO", "ジウ"), ("MINJI", "ミンジ"), ("YOUNGHEE", "ヨンヒ")),
        # Many Korean residents are special permanent residents who have lived here for generations.
        wife_takes_surname=False, adult_ages=(25, 85)),
    _ForeignNames(
        "フィリピン", 12,
        (("SANTOS", "サントス"), ("REYES", "レイエス"), ("CRUZ", "クルス"), ("GARCIA", "ガルシア"),
         ("BAUTISTA", "バウティスタ"), ("RAMOS", "ラモス")),
        (("JOSE", "ホセ"), ("MARK ANTHONY", "マーク アンソニー"), ("JOHN PAUL", "ジョン ポール"),
         ("RICO", "リコ")),
        (("MARIA CLARA", "マリア クララ"), ("ANNA ROSE", "アンナ ローズ"), ("JOY", "ジョイ"),
         ("KRISTINE", "クリスティン")),
        wife_takes_surname=True),
    _ForeignNames(
        "ブラジル", 10,
        (("SILVA", "シルバ"), ("SANTOS", "サントス"), ("OLIVEIRA", "オリベイラ"), ("SOUZA", "ソウザ"),
         ("PEREIRA", "ペレイラ")),
        (("CARLOS EDUARDO", "カルロス エドゥアルド"), ("LUCAS", "ルーカス"), ("RAFAEL", "ラファエル"),
         ("MARCOS", "マルコス")),
        (("ANA PAULA", "アナ パウラ"), ("JULIANA", "ジュリアナ"), ("FERNANDA", "フェルナンダ"),
         ("BEATRIZ", "ベアトリス")),
        wife_takes_surname=True),
    _ForeignNames(
        "アメリカ合衆国", 10,
        (("SMITH", "スミス"), ("JOHNSON", "ジョンソン"), ("BROWN", "ブラウン"), ("MILLER", "ミラー"),
         ("DAVIS", "デイビス"), ("WILSON", "ウィルソン")),
        (("JOHN", "ジョン"), ("MICHAEL", "マイケル"), ("DAVID", "デイビッド"), ("JAMES", "ジェームズ"),
         ("JOHN WILLIAM", "ジョン ウィリアム")),
        (("EMILY", "エミリー"), ("SARAH", "サラ"), ("JESSICA", "ジェシカ"),
         ("ELIZABETH ANN", "エリザベス アン")),
        wife_takes_surname=True),
)
# Japanese-style surnames used as 通称 by Korean residents.
_KOREAN_ALIAS_SURNAMES = ("金田", "金本", "新井", "岩本", "国本", "松山")

# (town, number of 丁目 — 0 for a rural 大字 addressed by 番地 —, last four digits of its postal code)
_TOWNS: tuple[tuple[str, int, str], ...] = (
    ("本町", 4, "0011"), ("栄町", 3, "0012"), ("中央", 5, "0013"), ("緑が丘", 3, "0014"), ("旭町", 2, "0015"),
    ("若葉台", 4, "0016"), ("桜木町", 3, "0017"), ("東町", 5, "0018"), ("富士見", 2, "0019"),
    ("大字上野", 0, "0101"),
)
_KANJI_NUMERALS = "一二三四五六七八九"
_BUILDINGS = ("メゾン桜", "コーポ若葉", "ハイツ旭", "グランドール栄", "サンライズ中央", "パレス緑が丘",
              "シティハイツ本町")
# 本籍 outside the municipality; 本籍 may be any lot in Japan, and 皇居 is a well-known choice.
_HONSEKI_ELSEWHERE = (
    "北海道札幌市中央区北一条西二丁目1番地", "宮城県仙台市青葉区本町三丁目8番地",
    "新潟県新潟市中央区学校町通一番町602番地", "静岡県静岡市葵区追手町9番地",
    "愛知県名古屋市中区三の丸三丁目1番地", "京都府京都市上京区下立売通新町西入薮ノ内町85番地",
    "大阪府大阪市中央区大手前二丁目1番地", "広島県広島市中区基町10番地", "福岡県福岡市博多区東公園7番地",
    "鹿児島県鹿児島市鴨池新町10番地", "東京都千代田区千代田1番",
)

# Household shapes per hundred households, with the share of each living in an apartment. Drawn
# in shuffled rounds, so every hundred households contain exactly this mix.
_HOUSEHOLD_MIX: dict[str, tuple[int, float]] = {
    "single_young": (14, 0.8),
    "single_middle": (9, 0.4),
    "single_elderly": (16, 0.15),
    "couple": (21, 0.3),
    "couple_with_children": (18, 0.25),
    "single_parent": (6, 0.6),
    "three_generations": (6, 0.0),
    "cohabiting": (2, 0.7),
    "foreign_single": (3, 0.85),
    "foreign_family": (2, 0.6),
    "mixed_marriage": (2, 0.4),
    "supported": (1, 0.9),
}
_FORMER_SURNAME_SHARE = 0.06  # married women who asked for their 旧氏 to be recorded
_MIXED_MARRIAGE_ALIAS_SHARE = 0.75
_KOREAN_ALIAS_SHARE = 0.7
_EARLIEST_MOVE_IN = datetime.date(1976, 4, 1)


def age_at(date_of_birth: datetime.date, on: datetime.date = REFERENCE_DATE) -> int:
    return on.year - date_of_birth.year - ((on.month, on.day) < (date_of_birth.month, date_of_birth.day))


def _years_before(day: datetime.date, years: int) -> datetime.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a common year
        return day.replace(year=day.year - years, day=28)


class _Deck(Generic[T]):
    """Deals items in shuffled rounds: each round holds every item as often as listed, so rare cases
    turn up at a guaranteed rate rather than by luck of the seed."""

    def __init__(self, rng: random.Random, items: Sequence[T]) -> None:
        self._rng = rng
        self._items = list(items)
        self._pending: list[T] = []

    def draw(self) -> T:
        if not self._pending:
            self._pending = self._items.copy()
            self._rng.shuffle(self._pending)
        return self._pending.pop()


@dataclass(frozen=True)
class _Koseki:
    head: str  # 筆頭者
    honseki: str


@dataclass
class _Family:
    """A married couple, head first, that builders extend with children or parents."""

    surname: Reading
    koseki: _Koseki
    husband: Resident
    wife: Resident
    wife_maiden_surname: Reading
    members: list[Resident]
    taken_given_names: set[str]


def _full_name(surname: Reading, given: Reading) -> Reading:
    return f"{surname[0]} {given[0]}", f"{surname[1]} {given[1]}"


class _Planner:
    def __init__(self, municipality: Municipality, rng: random.Random) -> None:
        self.municipality = municipality
        self.rng = rng
        self.kinds = _Deck(rng, [kind for kind, (per_hundred, _) in _HOUSEHOLD_MIX.items()
                                 for _ in range(per_hundred)])
        self.variant_surnames = _Deck(
            rng, [*_VARIANT_SURNAMES, *[None] * (_SURNAME_ROUND - len(_VARIANT_SURNAMES))])
        self.nationalities = _Deck(rng, [names for names in _FOREIGN_NAMES for _ in range(names.weight)])
        # A stable, made-up three-digit postal area per municipality; the last four digits name the town.
        self.postal_area = f"{zlib.crc32(municipality.code.encode()) % 900 + 100:03d}"
        self.builders: dict[str, Callable[[], list[Resident]]] = {
            "single_young": self._single_young,
            "single_middle": self._single_middle,
            "single_elderly": self._single_elderly,
            "couple": self._couple,
            "couple_with_children": self._couple_with_children,
            "single_parent": self._single_parent,
            "three_generations": self._three_generations,
            "cohabiting": self._cohabiting,
            "foreign_single": self._foreign_single,
            "foreign_family": self._foreign_family,
            "mixed_marriage": self._mixed_marriage,
            "supported": self._supported,
        }

    def plan(self, count: int) -> list[tuple[Household, list[Resident]]]:
        plans: list[tuple[Household, list[Resident]]] = []
        planned = 0
        while planned < count:
            kind = self.kinds.draw()
            # Cut the last household to fit; members are ordered head first, so the head stays.
            members = self.builders[kind]()[:count - planned]
            address, postal_code = self._address(apartment_share=_HOUSEHOLD_MIX[kind][1])
            plans.append((Household(municipality=self.municipality, postal_code=postal_code, address=address),
                          members))
            planned += len(members)
        return plans

    # --- dates -------------------------------------------------------------------------------------

    def _date_between(self, start: datetime.date, end: datetime.date) -> datetime.date:
        start = min(start, end)
        return start + datetime.timedelta(days=self.rng.randint(0, (end - start).days))

    def _birth_date(self, age: int) -> datetime.date:
        """A birth date giving exactly `age` on REFERENCE_DATE."""
        latest = _years_before(REFERENCE_DATE, age)
        earliest = _years_before(REFERENCE_DATE, age + 1) + datetime.timedelta(days=1)
        return self._date_between(earliest, latest)

    def _move_in(self, date_of_birth: datetime.date, at_age: int) -> datetime.date:
        """A move-in date once the person had reached `at_age`, within the last fifty years."""
        earliest = max(_years_before(date_of_birth, -at_age), _EARLIEST_MOVE_IN)
        return self._date_between(earliest, REFERENCE_DATE - datetime.timedelta(days=7))

    @staticmethod
    def _settle(members: list[Resident], moved_in: datetime.date) -> list[Resident]:
        """Everyone not yet dated became a resident on moving in, or at birth if born here later."""
        for member in members:
            if member.became_resident_on is None:
                member.became_resident_on = max(moved_in, member.date_of_birth)
        return members

    def _child_ages(self, parent_ages: Iterable[int], count: int, oldest: int) -> list[int]:
        """Distinct ages, oldest first, of children born when the younger parent was 20 to 42."""
        younger = min(parent_ages)
        possible = range(max(0, younger - 42), min(younger - 20, oldest) + 1)
        return sorted(self.rng.sample(possible, min(count, len(possible))), reverse=True)

    def _children_count(self) -> int:
        return self.rng.choices((1, 2, 3, 4), weights=(40, 45, 13, 2))[0]

    # --- names and registers -----------------------------------------------------------------------

    def _sex(self, female_share: float = 0.5) -> Sex:
        return Sex.FEMALE if self.rng.random() < female_share else Sex.MALE

    def _founding_surname(self) -> Reading:
        return self.variant_surnames.draw() or self._common_surname()

    def _common_surname(self, unlike: Reading | None = None) -> Reading:
        while True:
            surname = self.rng.choices(_SURNAMES, weights=_SURNAME_WEIGHTS)[0]
            if unlike is None or surname[1] != unlike[1]:
                return surname

    def _given_name(self, sex: Sex, age: int, taken: set[str]) -> Reading:
        """A given name of the bearer's generation whose reading no one in the household has yet."""
        _, male, female = next(era for era in _GIVEN_NAMES if REFERENCE_DATE.year - age <= era[0])
        while True:
            given = self.rng.choice(male if sex == Sex.MALE else female)
            if given[1] not in taken:
                taken.add(given[1])
                return given

    def _relative(self, surname: Reading, age: int) -> str:
        """The name of a man outside the household who heads someone's 戸籍 (a father, a late husband)."""
        return _full_name(surname, self._given_name(Sex.MALE, age, set()))[0]

    def _place(self, town: str, chome_count: int) -> str:
        """Town and 丁目 (in kanji numerals, as written) of an address or 本籍 in this municipality."""
        place = f"{self.municipality.prefecture}{self.municipality.name}{town}"
        return f"{place}{_KANJI_NUMERALS[self.rng.randint(1, chome_count) - 1]}丁目" if chome_count else place

    def _honseki(self, local_share: float) -> str:
        if self.rng.random() >= local_share:
            return self.rng.choice(_HONSEKI_ELSEWHERE)
        town, chome_count, _ = self.rng.choice(_TOWNS)
        lot = self.rng.randint(1, 30) if chome_count else self.rng.randint(100, 2999)
        return f"{self._place(town, chome_count)}{lot}番地"

    def _address(self, apartment_share: float) -> tuple[str, str]:
        town, chome_count, postal_suffix = self.rng.choice(_TOWNS)
        postal_code = f"{self.postal_area}-{postal_suffix}"
        if not chome_count:
            return f"{self._place(town, 0)}{self.rng.randint(100, 2999)}番地", postal_code
        address = f"{self._place(town, chome_count)}{self.rng.randint(1, 30)}番{self.rng.randint(1, 25)}号"
        if self.rng.random() < apartment_share:
            room = f"{self.rng.randint(1, 5)}{self.rng.randint(1, 8):02d}"
            address += f"\u3000{self.rng.choice(_BUILDINGS)}{room}号室"
        return address, postal_code

    def _resident(self, name: Reading, sex: Sex, age: int, relationship: str, **fields: object) -> Resident:
        return Resident(municipality=self.municipality, name=name[0], name_kana=name[1],
                        date_of_birth=self._birth_date(age), sex=sex, relationship=relationship, **fields)

    def _japanese(self, name: Reading, sex: Sex, age: int, relationship: str, koseki: _Koseki,
                  **fields: object) -> Resident:
        return self._resident(name, sex, age, relationship, honseki=koseki.honseki, koseki_head=koseki.head,
                              **fields)

    def _member(self, surname: Reading, sex: Sex, age: int, relationship: str, koseki: _Koseki,
                taken: set[str], **fields: object) -> Resident:
        """A Japanese household member with a given name not yet used in the household."""
        name = _full_name(surname, self._given_name(sex, age, taken))
        return self._japanese(name, sex, age, relationship, koseki, **fields)

    def _foreigner(self, names: _ForeignNames, surname: Reading, sex: Sex, age: int, relationship: str,
                   **fields: object) -> Resident:
        given = self.rng.choice(names.male if sex == Sex.MALE else names.female)
        return self._resident(_full_name(surname, given), sex, age, relationship, nationality=names.nationality,
                              **fields)

    # --- Japanese households -----------------------------------------------------------------------

    def _single_koseki(self, surname: Reading, name: Reading, age: int, own_share: float,
                       local_share: float) -> _Koseki:
        """An unmarried adult stays in the parents' 戸籍 unless they made their own (分籍, divorce)."""
        own = self.rng.random() < own_share
        head = name[0] if own else self._relative(surname, age + self.rng.randint(25, 35))
        return _Koseki(head, self._honseki(local_share))

    def _single(self, age: int, own_koseki_share: float, local_share: float) -> list[Resident]:
        sex, surname = self._sex(), self._founding_surname()
        name = _full_name(surname, self._given_name(sex, age, set()))
        koseki = self._single_koseki(surname, name, age, own_koseki_share, local_share)
        person = self._japanese(name, sex, age, HEAD, koseki)
        return self._settle([person], self._move_in(person.date_of_birth, 18))

    def _single_young(self) -> list[Resident]:
        # Mostly people who moved here for work or study, 本籍 still at their parents'.
        return self._single(self.rng.randint(19, 39), own_koseki_share=0.1, local_share=0.3)

    def _single_middle(self) -> list[Resident]:
        return self._single(self.rng.randint(40, 64), own_koseki_share=0.5, local_share=0.5)

    def _single_elderly(self) -> list[Resident]:
        surname, age, sex = self._founding_surname(), self.rng.randint(65, 98), self._sex(female_share=0.7)
        name = _full_name(surname, self._given_name(sex, age, set()))
        # A widow stays in her late husband's 戸籍, and he remains its 筆頭者.
        head = self._relative(surname, age + self.rng.randint(0, 5)) if sex == Sex.FEMALE else name[0]
        person = self._japanese(name, sex, age, HEAD, _Koseki(head, self._honseki(0.6)))
        # Some have lived here since birth.
        born_here = self.rng.random() < 0.25
        return self._settle([person], person.date_of_birth if born_here
                            else self._move_in(person.date_of_birth, 25))

    def _married_couple(self, husband_age: int, wife_head_share: float = 0.05) -> _Family:
        surname, taken = self._founding_surname(), set[str]()
        wife_age = max(20, husband_age - self.rng.randint(-3, 7))
        husband_name = _full_name(surname, self._given_name(Sex.MALE, husband_age, taken))
        koseki = _Koseki(husband_name[0], self._honseki(0.55))
        wife_is_head = self.rng.random() < wife_head_share
        husband = self._japanese(husband_name, Sex.MALE, husband_age, "夫" if wife_is_head else HEAD, koseki)
        maiden = self._common_surname(unlike=surname)
        former_surname = maiden[0] if self.rng.random() < _FORMER_SURNAME_SHARE else ""
        wife = self._member(surname, Sex.FEMALE, wife_age, HEAD if wife_is_head else "妻", koseki, taken,
                            former_surname=former_surname)
        members = [wife, husband] if wife_is_head else [husband, wife]
        return _Family(surname, koseki, husband, wife, maiden, members, taken)

    def _add_children(self, family: _Family, count: int, oldest: int) -> None:
        parent_ages = (age_at(family.husband.date_of_birth), age_at(family.wife.date_of_birth))
        for age in self._child_ages(parent_ages, count, oldest):
            family.members.append(
                self._member(family.surname, self._sex(), age, "子", family.koseki, family.taken_given_names))

    def _couple(self) -> list[Resident]:
        young = self.rng.random() < 0.35
        family = self._married_couple(self.rng.randint(24, 39) if young else self.rng.randint(62, 90))
        return self._settle(family.members, self._move_in(family.wife.date_of_birth, 22))

    def _couple_with_children(self) -> list[Resident]:
        family = self._married_couple(self.rng.randint(28, 62))
        # Unmarried grown-up children still live at home and stay in their parents' 戸籍.
        self._add_children(family, self._children_count(), oldest=30)
        return self._settle(family.members, self._move_in(family.wife.date_of_birth, 22))

    def _three_generations(self) -> list[Resident]:
        return self._with_parents() if self.rng.random() < 0.6 else self._with_married_son()

    def _with_parents(self) -> list[Resident]:
        """A couple with children who took in the husband's parents, or the wife's widowed mother."""
        family = self._married_couple(self.rng.randint(35, 58), wife_head_share=0)
        self._add_children(family, self._children_count(), oldest=25)
        husband_age, wife_age = age_at(family.husband.date_of_birth), age_at(family.wife.date_of_birth)
        taken = family.taken_given_names
        if self.rng.random() < 0.25:
            mother_age = min(99, wife_age + self.rng.randint(24, 34))
            late_father = self._relative(family.wife_maiden_surname, mother_age + 2)
            koseki = _Koseki(late_father, self._honseki(local_share=0.2))
            family.members.append(
                self._member(family.wife_maiden_surname, Sex.FEMALE, mother_age, "妻の母", koseki, taken))
        else:
            father_age = min(99, husband_age + self.rng.randint(25, 35))
            mother_age = max(husband_age + 22, father_age - self.rng.randint(0, 4))
            father_name = _full_name(family.surname, self._given_name(Sex.MALE, father_age, taken))
            # Sons often keep the family's 本籍 when they marry.
            honseki = family.koseki.honseki if self.rng.random() < 0.65 else self._honseki(0.3)
            koseki = _Koseki(father_name[0], honseki)
            alive = self.rng.choices(("both", "mother", "father"), weights=(50, 40, 10))[0]
            if alive != "mother":
                family.members.append(self._japanese(father_name, Sex.MALE, father_age, "父", koseki))
            if alive != "father":
                family.members.append(self._member(family.surname, Sex.FEMALE, mother_age, "母", koseki, taken))
        return self._settle(family.members, self._move_in(family.wife.date_of_birth, 22))

    def _with_married_son(self) -> list[Resident]:
        """An elderly head (perhaps widowed), his son, the son's wife (子の妻) and grandchildren (孫)."""
        family = self._married_couple(self.rng.randint(62, 84), wife_head_share=0)
        husband_age, wife_age = age_at(family.husband.date_of_birth), age_at(family.wife.date_of_birth)
        widowed = self.rng.random() < 0.3
        if widowed:
            family.members.remove(family.wife)
        # The family home: the head has often lived here since birth.
        head_birth = family.husband.date_of_birth
        moved_in = head_birth if self.rng.random() < 0.5 else self._move_in(head_birth, 25)
        taken = family.taken_given_names
        son_age = max(26, min(husband_age, wife_age) - self.rng.randint(24, 34))
        son_name = _full_name(family.surname, self._given_name(Sex.MALE, son_age, taken))
        # Marriage gave the son a 戸籍 of his own; his wife and children are in it.
        son_koseki = _Koseki(son_name[0], family.koseki.honseki if self.rng.random() < 0.8 else self._honseki(0.5))
        son = self._japanese(son_name, Sex.MALE, son_age, "子", son_koseki)
        daughter_in_law_age = max(22, son_age - self.rng.randint(-2, 5))
        maiden = self._common_surname(unlike=family.surname)
        daughter_in_law = self._member(
            family.surname, Sex.FEMALE, daughter_in_law_age, "子の妻", son_koseki, taken,
            former_surname=maiden[0] if self.rng.random() < _FORMER_SURNAME_SHARE else "")
        grandchildren = [self._member(family.surname, self._sex(), age, "孫", son_koseki, taken)
                         for age in self._child_ages((son_age, daughter_in_law_age), self.rng.randint(1, 2),
                                                     oldest=17)]
        # Wives moved in on marrying, before their first child was born.
        if not widowed:
            family.wife.became_resident_on = max(moved_in, self._date_between(
                _years_before(family.wife.date_of_birth, -20), son.date_of_birth))
        first_birth = grandchildren[0].date_of_birth if grandchildren else REFERENCE_DATE
        daughter_in_law.became_resident_on = max(moved_in, self._date_between(
            _years_before(max(daughter_in_law.date_of_birth, son.date_of_birth), -22), first_birth))
        family.members += [son, daughter_in_law, *grandchildren]
        return self._settle(family.members, moved_in)

    def _single_parent(self) -> list[Resident]:
        surname, sex, taken = self._founding_surname(), self._sex(female_share=0.85), set[str]()
        age = self.rng.randint(26, 55) if sex == Sex.FEMALE else self.rng.randint(30, 58)
        name = _full_name(surname, self._given_name(sex, age, taken))
        # After a divorce the parent heads a new 戸籍, and the children are entered into it.
        koseki = _Koseki(name[0], self._honseki(0.5))
        parent = self._japanese(name, sex, age, HEAD, koseki)
        children = [self._member(surname, self._sex(), child_age, "子", koseki, taken)
                    for child_age in self._child_ages((age,), self.rng.randint(1, 3), oldest=22)]
        return self._settle([parent, *children], self._move_in(parent.date_of_birth, 20))

    def _cohabiting(self) -> list[Resident]:
        """An unmarried couple (妻(未届)) or two unrelated people sharing a home (同居人)."""
        if self.rng.random() < 0.5:
            head_sex, head_age = Sex.MALE, self.rng.randint(25, 60)
            other = (Sex.FEMALE, max(22, head_age - self.rng.randint(-3, 8)), "妻(未届)")
        else:
            head_sex, head_age = self._sex(), self.rng.randint(22, 45)
            other = (head_sex, max(20, head_age + self.rng.randint(-5, 5)), "同居人")
        members: list[Resident] = []
        head_surname = self._founding_surname()
        surnames = (head_surname, self._common_surname(unlike=head_surname))
        for surname, (sex, age, relationship) in zip(surnames, ((head_sex, head_age, HEAD), other), strict=True):
            name = _full_name(surname, self._given_name(sex, age, set()))
            koseki = self._single_koseki(surname, name, age, own_share=0.3, local_share=0.3)
            members.append(self._japanese(name, sex, age, relationship, koseki))
        return self._settle(members, self._move_in(members[0].date_of_birth, 20))

    def _supported(self) -> list[Resident]:
        """A woman, perhaps with children, who fled here recently and is under a 支援措置."""
        surname, age, taken = self._founding_surname(), self.rng.randint(24, 45), set[str]()
        name = _full_name(surname, self._given_name(Sex.FEMALE, age, taken))
        koseki = _Koseki(name[0], self._honseki(local_share=0))
        mother = self._japanese(name, Sex.FEMALE, age, HEAD, koseki, support_measure=True)
        children = [self._member(surname, self._sex(), child_age, "子", koseki, taken, support_measure=True)
                    for child_age in self._child_ages((age,), self.rng.randint(0, 2), oldest=15)]
        recently = _years_before(REFERENCE_DATE, 3)
        return self._settle([mother, *children], self._date_between(recently, REFERENCE_DATE))

    # --- foreign residents: no 本籍 or 筆頭者, as they have no 戸籍 ------------------------------------

    def _alias_surname(self, names: _ForeignNames) -> str | None:
        if names.nationality == "韓国" and self.rng.random() < _KOREAN_ALIAS_SHARE:
            return self.rng.choice(_KOREAN_ALIAS_SURNAMES)
        return None

    def _alias(self, alias_surname: str | None, sex: Sex, age: int) -> str:
        if alias_surname is None:
            return ""
        return f"{alias_surname} {self._given_name(sex, age, set())[0]}"

    def _foreign_single(self) -> list[Resident]:
        names = self.nationalities.draw()
        sex, age = self._sex(), self.rng.randint(*names.adult_ages)
        alias = self._alias(self._alias_surname(names), sex, age)
        person = self._foreigner(names, self.rng.choice(names.surnames), sex, age, HEAD, alias=alias)
        return self._settle([person], self._move_in(person.date_of_birth, 18))

    def _foreign_family(self) -> list[Resident]:
        names = self.nationalities.draw()
        alias_surname = self._alias_surname(names)
        husband_age = self.rng.randint(27, 50)
        wife_age = max(21, husband_age - self.rng.randint(-2, 6))
        surname = self.rng.choice(names.surnames)
        wife_surname = surname if names.wife_takes_surname else self.rng.choice(names.surnames)
        wife_is_head = self.rng.random() < 0.1
        husband = self._foreigner(names, surname, Sex.MALE, husband_age, "夫" if wife_is_head else HEAD,
                                  alias=self._alias(alias_surname, Sex.MALE, husband_age))
        wife = self._foreigner(names, wife_surname, Sex.FEMALE, wife_age, HEAD if wife_is_head else "妻",
                               alias=self._alias(alias_surname, Sex.FEMALE, wife_age))
        members = [wife, husband] if wife_is_head else [husband, wife]
        for child_age in self._child_ages((husband_age, wife_age), self.rng.randint(0, 2), oldest=17):
            sex = self._sex()
            members.append(self._foreigner(names, surname, sex, child_age, "子",
                                           alias=self._alias(alias_surname, sex, child_age)))
        return self._settle(members, self._move_in(husband.date_of_birth, 20))

    def _mixed_marriage(self) -> list[Resident]:
        """A Japanese head, a foreign spouse and their Japanese children.

        Marrying a foreigner gives the Japanese spouse a new 戸籍 of their own, which the children
        join; the foreign spouse often goes by the family's surname as 通称.
        """
        names = self.nationalities.draw()
        surname, taken = self._founding_surname(), set[str]()
        japanese_sex = self._sex(female_share=0.4)
        foreign_sex = Sex.MALE if japanese_sex == Sex.FEMALE else Sex.FEMALE
        japanese_age = self.rng.randint(28, 60)
        foreign_age = max(22, japanese_age + self.rng.randint(-8, 4))
        name = _full_name(surname, self._given_name(japanese_sex, japanese_age, taken))
        koseki = _Koseki(name[0], self._honseki(0.5))
        japanese = self._japanese(name, japanese_sex, japanese_age, HEAD, koseki)
        foreigner = self._foreigner(names, self.rng.choice(names.surnames), foreign_sex, foreign_age,
                                    "妻" if foreign_sex == Sex.FEMALE else "夫")
        if self.rng.random() < _MIXED_MARRIAGE_ALIAS_SHARE:
            given_names = foreigner.name_kana.split()[1:]
            foreigner.alias = f"{surname[0]} {given_names[-1 if names.called_by_last_name else 0]}"
        children = [self._member(surname, self._sex(), child_age, "子", koseki, taken)
                    for child_age in self._child_ages((japanese_age, foreign_age), self.rng.randint(0, 2),
                                                      oldest=20)]
        return self._settle([japanese, foreigner, *children], self._move_in(foreigner.date_of_birth, 22))


def _serial_numbers(rng: random.Random, count: int, first: int, digits: int, taken: set[str]) -> list[str]:
    """Ascending numbers with gaps, as the numbers of people who moved away or died are not reused."""
    numbers: list[str] = []
    current = first
    while len(numbers) < count:
        current += rng.randint(1, 29)
        number = f"{current:0{digits}d}"
        if number not in taken:
            numbers.append(number)
    return numbers


def generate_replica(municipality: Municipality, count: int = 1000,
                     seed: int = DEFAULT_SEED) -> list[Resident]:
    """Create `count` synthetic residents, in households, for `municipality`; return them household by
    household, head first.

    The same seed gives the same people in any municipality (addresses differ only by the
    municipality's name). 宛名番号 and 世帯番号 follow the order in which people registered and skip
    numbers the municipality already uses, so a replica that has rows is safe.
    """
    plans = plan_replica(municipality, count, seed)
    households = [household for household, _ in plans]
    residents = [member for _, members in plans for member in members]
    with transaction.atomic():
        Household.objects.bulk_create(households)
        for household, members in plans:
            for member in members:
                member.household = household
        Resident.objects.bulk_create(residents)
        for household, members in plans:
            household.head = members[0]
        Household.objects.bulk_update(households, ["head"])
        generate_records(municipality, residents, seed, REFERENCE_DATE)
    return residents


def plan_replica(municipality: Municipality, count: int = 1000,
                 seed: int = DEFAULT_SEED) -> list[tuple[Household, list[Resident]]]:
    """The households and residents `generate_replica` saves, numbered but not saved."""
    if count < 0:
        raise ValueError("count must not be negative")
    rng = random.Random(seed)
    plans = _Planner(municipality, rng).plan(count)
    households = [household for household, _ in plans]
    residents = [member for _, members in plans for member in members]

    used = set(Household.objects.filter(municipality=municipality).values_list("household_number", flat=True))
    household_numbers = _serial_numbers(rng, len(households), rng.randrange(10**9, 5 * 10**9), 10, used)
    by_founding = sorted(range(len(plans)), key=lambda i: min(m.became_resident_on for m in plans[i][1]))
    for index, number in zip(by_founding, household_numbers, strict=True):
        households[index].household_number = number
    used = set(Resident.objects.filter(municipality=municipality).values_list("person_number", flat=True))
    person_numbers = _serial_numbers(rng, len(residents), rng.randrange(10**11, 5 * 10**11), 12, used)
    by_registration = sorted(range(len(residents)), key=lambda i: residents[i].became_resident_on)
    for index, number in zip(by_registration, person_numbers, strict=True):
        residents[index].person_number = number
    for member in residents:
        # 住民基本台帳法 第7条第7号・第8号: everyone settled at today's address on becoming a resident
        # here and notified it that day (the demo's linkage files say the same, `replica_files`).
        member.address_since = member.address_notified_on = member.became_resident_on
        if member.nationality:  # 第30条の45
            member.became_foreign_resident_on = member.became_resident_on
    for household, members in plans:
        for member in members:
            member.household = household
    return plans


def has_variation_selector(text: str) -> bool:
    return any(0xFE00 <= ord(ch) <= 0xFE0F or 0xE0100 <= ord(ch) <= 0xE01EF for ch in text)


def has_compatibility_ideograph(text: str) -> bool:
    return any(0xF900 <= ord(ch) <= 0xFAFF or 0x2F800 <= ord(ch) <= 0x2FA1F for ch in text)


# Variant forms that are unified ideographs of their own: to a computer 渡邊 is not 渡辺.
VARIANT_IDEOGRAPHS = frozenset("髙邊邉齋")


def _is_plain(name: str) -> bool:
    return not (has_variation_selector(name) or has_compatibility_ideograph(name) or VARIANT_IDEOGRAPHS & set(name))


def hard_cases(residents: Iterable[Resident]) -> dict[str, Resident]:
    """The first resident of each kind a demo or a test wants to show, by key:

    ordinary                    a Japanese 世帯主 aged 20–64 with nothing unusual
    ivs_name                    a name with an ideographic variation sequence (葛󠄀城, 辻󠄂)
    compat_kanji                a name with a CJK compatibility ideograph (山﨑)
    variant_kanji               a name with a variant that is a code point of its own (髙橋, 渡邊)
    foreign                     a foreign resident without 通称
    foreign_with_alias          a foreign resident with 通称
    former_surname              a woman with her 旧氏 recorded
    under_15                    a child aged 6–11 on REFERENCE_DATE, so still under 15 for years
    support_measure             a resident under a 支援措置 (requests about them go to a clerk)
    household_head_with_family  a Japanese 世帯主 living with at least three others

    Keys without a match among `residents` are left out.
    """
    residents = list(residents)
    household_sizes = Counter(resident.household_id for resident in residents)

    def ordinary(r: Resident) -> bool:
        return (r.relationship == HEAD and not r.is_foreign and 20 <= age_at(r.date_of_birth) < 65
                and _is_plain(r.name) and not (r.former_surname or r.support_measure))

    def head_with_family(r: Resident) -> bool:
        return (r.relationship == HEAD and not r.is_foreign and not r.support_measure
                and household_sizes[r.household_id] >= 4)

    checks: dict[str, Callable[[Resident], bool]] = {
        "ordinary": ordinary,
        "ivs_name": lambda r: has_variation_selector(r.name),
        "compat_kanji": lambda r: has_compatibility_ideograph(r.name),
        "variant_kanji": lambda r: bool(VARIANT_IDEOGRAPHS & set(r.name)),
        "foreign": lambda r: r.is_foreign and not r.alias,
        "foreign_with_alias": lambda r: r.is_foreign and bool(r.alias),
        "former_surname": lambda r: bool(r.former_surname),
        "under_15": lambda r: 6 <= age_at(r.date_of_birth) <= 11,
        "support_measure": lambda r: r.support_measure,
        "household_head_with_family": head_with_family,
    }
    found: dict[str, Resident] = {}
    for key, check in checks.items():
        match = next((resident for resident in residents if check(resident)), None)
        if match is not None:
            found[key] = match
    return found
