"""Personal-data stripping for knowledge-base drafts made from support tickets.

`strip_pii` removes e-mail addresses, phone numbers and names of people from a text and
reports each removal, so the author of an article draft sees what was taken out.

- E-mails: the usual local@domain.tld forms (dots, plus, hyphens, subdomains).
- Phones: Chinese mobiles, numbers with a trunk 0 and area code (0574-8765 4321, (010)
  12345678, 07700 900461), international numbers (+49 ..., 0049 ..., +1 (415) ...), North
  American 415-555-0142, any 7-15 digit number right after a cue (电话, Tel, phone, call me
  at), each with a following extension (转 8021, ext. 12). Error codes, versions,
  IP addresses, dates, times, serials, KB and ticket numbers are left alone: a phone must not
  touch letters, and must not continue a dotted, dashed or colon-separated number.
- Names: the ticket's `known_names` wherever they occur (for a Chinese name also its
  surname + title, 张琳 -> 张工 / 张经理); Chinese names (common surname + 1-2 characters)
  directly before a title (先生, 经理, 工程师, ...) or a reporting verb (反映, 说, 的电脑 ...),
  or right after a cue (联系人, 客户, 用户, 致电, 姓名, ...), and after the compound surnames
  that are no ordinary words (欧阳, 司马, 诸葛, ...); English names after Mr./Ms./Dr.,
  after cues (contact:, called, Name:, cc:, spoke with, ...), in greetings (Hi Anna, / Dear
  ...) and sign-offs (Regards, / Thanks, ...). jieba's dictionary vetoes candidates that are
  ordinary words (高级经理, 江苏区经理, 马上联系); its `nr` tag alone is not trusted, it
  marks 许可证, 宋体, 金山 and 华为 as names.

Overlapping matches keep the longest; removals are reported sorted by offset. Each removal
becomes a placeholder, Chinese ([邮箱] [电话] [姓名]) when the text around it is mostly
Chinese, else English ([email] [phone] [name]).
"""

from __future__ import annotations

import bisect
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

KINDS = ("email", "phone", "name")
PLACEHOLDERS = {
    "zh": {"email": "[邮箱]", "phone": "[电话]", "name": "[姓名]"},
    "en": {"email": "[email]", "phone": "[phone]", "name": "[name]"},
}


@dataclass(frozen=True)
class Removal:
    """One piece of personal data taken out of a text."""

    kind: str  # "email" | "phone" | "name"
    text: str  # what was removed
    start: int  # offset in the original text
    end: int


@dataclass(frozen=True)
class Stripped:
    """A cleaned text and what was removed from it."""

    text: str
    removals: list[Removal]


def strip_pii(text: str, known_names: Iterable[str] = ()) -> Stripped:
    """Remove e-mails, phone numbers and people's names from `text`.

    `known_names` (the ticket's requester, contacts, ...) are removed wherever they occur;
    other names are found by context. Overlaps keep the longest match.
    """
    names = [name.strip() for name in known_names if name and len(name.strip()) >= 2]
    found = [*_emails(text), *_phones(text), *_names(text, names)]
    removals = _longest_first(found)
    return Stripped(_redact(text, removals), removals)


# ---------------------------------------------------------------- overlaps and placeholders


def _longest_first(found: list[Removal]) -> list[Removal]:
    """Keep the longest of overlapping removals (earlier start on ties), sorted by start."""
    kept: list[Removal] = []  # sorted by start, never overlapping
    starts: list[int] = []
    for removal in sorted(found, key=lambda r: (r.start - r.end, r.start, KINDS.index(r.kind))):
        i = bisect.bisect_left(starts, removal.start)
        clear_before = i == 0 or kept[i - 1].end <= removal.start
        clear_after = i == len(kept) or removal.end <= kept[i].start
        if clear_before and clear_after:
            kept.insert(i, removal)
            starts.insert(i, removal.start)
    return kept


def _redact(text: str, removals: list[Removal]) -> str:
    """Replace each removal with its placeholder in the language around it."""
    masked = _masked(text, removals)
    parts: list[str] = []
    position = 0
    for removal in removals:
        language = _language_around(masked, removal)
        parts += [text[position : removal.start], PLACEHOLDERS[language][removal.kind]]
        position = removal.end
    parts.append(text[position:])
    return "".join(parts)


def _masked(text: str, removals: list[Removal]) -> str:
    """The text with every removal blanked out, so removed words do not vote on language."""
    parts: list[str] = []
    position = 0
    for removal in removals:
        parts += [text[position : removal.start], " " * (removal.end - removal.start)]
        position = removal.end
    parts.append(text[position:])
    return "".join(parts)


HAN = r"\u3400-\u4dbf\u4e00-\u9fff"
IS_HAN = re.compile(f"[{HAN}]")
IS_LATIN = re.compile("[A-Za-z]")
WINDOW = 30


def _language_around(masked: str, removal: Removal) -> str:
    """'zh' when the text near the removal is mostly Chinese, else 'en'.

    Near: within WINDOW characters on the same line, or across lines when the line has no
    letters of its own (a signature). `masked` has the removals blanked out. A Han character
    weighs as much as three Latin letters, about the letters of an English word per Chinese word.
    """
    lo, hi = max(0, removal.start - WINDOW), min(len(masked), removal.end + WINDOW)
    line_lo = max(lo, masked.rfind("\n", 0, removal.start) + 1)
    line_end = masked.find("\n", removal.end)
    line_hi = hi if line_end < 0 else min(hi, line_end)
    han, latin = _letters(masked[line_lo:line_hi])
    if not han and not latin:
        han, latin = _letters(masked[lo:hi])
    return "zh" if han and han * 3 >= latin else "en"


def _letters(text: str) -> tuple[int, int]:
    """Han characters and Latin letters in `text`."""
    return len(IS_HAN.findall(text)), len(IS_LATIN.findall(text))


# ---------------------------------------------------------------- e-mails

EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9](?:[A-Za-z0-9._%+\-]*[A-Za-z0-9_%+\-])?"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}(?![A-Za-z0-9\-])"
)


def _emails(text: str) -> Iterator[Removal]:
    for match in EMAIL.finditer(text):
        yield Removal("email", match.group(), match.start(), match.end())


# ---------------------------------------------------------------- phones

# A phone neither touches letters or digits nor continues a dotted/dashed/colon number
# (versions, IPs, dates, times, SN-CN12345678, CW-20261019-0006).
LEFT = r"(?<![A-Za-z0-9_@])(?<!\d[.\-/:])(?<![A-Za-z]-)"
RIGHT = r"(?![A-Za-z0-9_@])(?![.\-/:]\d)"
SEP = r"[ \u00a0\-]"
PHONE_PATTERNS = [
    # Chinese mobile: 138-0000-1960, 13800001960, +86 138 0000 1960, (+86) 13800001960
    rf"(?:(?:\+|00)?86{SEP}?|\(\+?86\){SEP}?)?1[3-9]\d(?:{SEP}?\d{{4}}){{2}}",
    # national numbers with trunk prefix 0: 0574-8765 4321, (010) 12345678, (020) 7946 0958,
    # 0151 2345 6789, 07700 900461 (+86 21 12345678 goes by the next pattern)
    rf"(?:(?:\+|00)?86{SEP}?)?(?:\(0[1-9]\d{{1,3}}\)|0[1-9]\d{{1,3}})"
    rf"{SEP}?\d{{3,4}}{SEP}?\d{{3,4}}",
    # international: +49 30 1234567, +1 (415) 555-0199, 0049 89 1234567
    r"(?:\+|00)[1-9]\d{0,2}(?:[ \u00a0.\-]?(?:\(\d{1,4}\)|\d{1,8})){1,5}",
    # North American without country code: 415-555-0142, (415) 555-0142
    r"(?:\([2-9]\d{2}\) ?|[2-9]\d{2}[ .\-])\d{3}[ .\-]\d{4}",
]
PHONES = [re.compile(f"{LEFT}(?:{p}){RIGHT}") for p in PHONE_PATTERNS]
PHONE_CUE = re.compile(
    r"(?:电话|手机|座机|固话|分机|传真|热线|\b(?i:tel|phone|mobile|cell|fax|call(?: me)?(?: back)?"
    r"(?: on| at)?))(?:号码|号)?\s*(?:是|为)?\s*[:：]?\s*"
    rf"{LEFT}(\+?\(?\d[\d \u00a0\-()]{{5,}}\d){RIGHT}"
)
PHONE_AFTER_CALL = re.compile(
    r"\b(?i:call|phone|ring|dial|reach|text)\b[^\n;:?!]{0,40}?\b(?:at|on)[ \u00a0]+"
    rf"{LEFT}(\+?\(?\d[\d \u00a0\-()]{{5,}}\d){RIGHT}"
)
EXTENSION = re.compile(r"[ \u00a0]*(?:转|分机|(?i:ext\.?|extension|x)|#)[ \u00a0]*\d{1,6}(?!\d)")
DATE = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}")
MIN_DIGITS, MAX_DIGITS = 7, 15


def _phones(text: str) -> Iterator[Removal]:
    spans = [m.span() for pattern in PHONES for m in pattern.finditer(text)]
    for cue in (PHONE_CUE, PHONE_AFTER_CALL):
        spans += [m.span(1) for m in cue.finditer(text) if not DATE.search(m.group(1))]
    for start, end in spans:
        digits = sum(ch.isdigit() for ch in text[start:end])
        if MIN_DIGITS <= digits <= MAX_DIGITS:
            end = _with_extension(text, end)
            yield Removal("phone", text[start:end], start, end)


def _with_extension(text: str, end: int) -> int:
    """Extend a phone number over a following extension (转 8021, ext. 12, x12)."""
    match = EXTENSION.match(text, end)
    return match.end() if match else end


# ---------------------------------------------------------------- names: shared


def _names(text: str, known: list[str]) -> Iterator[Removal]:
    spans = [*_known_names(text, known), *_chinese_names(text), *_english_names(text)]
    for start, end in spans:
        yield Removal("name", text[start:end], start, end)


def _known_names(text: str, known: list[str]) -> Iterator[tuple[int, int]]:
    """Spans of the known names, their surname + title forms and their single words."""
    for name in known:
        for pattern in _known_name_patterns(name):
            yield from (m.span() for m in pattern.finditer(text))


def _known_name_patterns(name: str) -> list[re.Pattern[str]]:
    """张琳: itself and 张 + title. Jason Wang: itself (any case) and Jason, Wang alone."""
    if IS_HAN.search(name):
        patterns = [re.compile(re.escape(name))]
        surname = _surname_at(name, 0) or name[0]  # 阚亮 -> 阚工, though 阚 is no common surname
        if len(name) > len(surname) and IS_HAN.match(surname[0]):
            patterns.append(re.compile(re.escape(surname) + ZH_TITLE))
        return patterns
    words = name.split()
    full = r"\s+".join(re.escape(word) for word in words)
    patterns = [re.compile(rf"(?<![A-Za-z]){full}(?![A-Za-z])", re.IGNORECASE)]
    for word in words if len(words) > 1 else []:
        if len(word) >= 3 and word.lower() not in NOT_EN_NAMES:
            patterns.append(re.compile(rf"(?<![A-Za-z]){re.escape(word)}(?![A-Za-z])"))
    return patterns


# ---------------------------------------------------------------- names: Chinese

SURNAMES = set(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩邓冯曹彭曾肖田董潘袁蔡蒋余于杜叶"
    "程魏苏吕丁任卢姚沈钟姜崔谭陆范汪廖石金韦贾夏付傅方邹熊白孟秦邱侯江尹薛闫段雷龙黎史陶贺"
    "毛郝顾龚邵万覃武钱戴严欧莫孔向常汤康易乔赖文施"
)
COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "皇甫", "慕容", "令狐", "司徒", "夏侯", "公孙")
ZH_TITLE = (
    "(?:先生|女士|小姐|老师|总经理|经理|工程师|总监|总工|主任|主管|同事|师傅|同学"
    "|工(?![作程具单厂业艺资位号种期序人区地会商卡龄时])"
    "|总(?![部是共线结数体计额量之而要算裁公机会经]))"
)
ZH_TITLE_START = set("先女小老总经工主同师")
ZH_HONORIFICS = ("先生", "女士", "小姐")
ZH_AFTER_NAME = re.compile(
    ZH_TITLE
    + "|反映|反馈|来电|表示|说|称|报修|报告|确认|要求|提出|询问|咨询|投诉|提交|申请|发现|遇到|致电"
    + "|的(?:电脑|笔记本|台式机|账号|帐号|账户|邮箱|手机|工位|办公室|密码|工单|打印机|显示器|权限)"
)
# Compound surnames that are not ordinary words mark a name without further context
# (上官 is left out: 上官网下载 is "go to the official site").
ZH_RARE_SURNAME = re.compile("(?=欧阳|司马|诸葛|皇甫|慕容|令狐|司徒)")
ZH_CUE = re.compile(
    "(?:联系人|报修人|来电人|申请人|提交人|负责人|对接人|经办人|联系|客户|用户|致电|姓名|同事"
    r"|转告|告知|通知|交给|转给|找)\s*(?:是|为)?\s*[:：]?\s*"
)
# Characters that start a word after a two-character name rather than end a three-character one.
ZH_STOP_AFTER = set(
    "说的在是已和与及等称也都将会把被于先女小老经工总主同来去到让给对向从请要就还又再了着过打发问找讲帮"
    "您你他她们"
)
# Characters that stand before a name as a word of their own (prepositions and the like).
ZH_FUNCTION = set("向于和与同由对给把被让跟请找问叫为是从在将及等即经已曾又也都才就还再个位名的了")
# Words jieba's dictionary tags as names (nr) that are products or things in support tickets.
NOT_ZH_NAMES = {
    "许可证", "许可", "宋体", "金山", "金蝶", "华为", "戴尔", "谢谢", "白屏", "白板", "白名单",
    "高清", "罗技", "雷蛇", "雷电", "方正", "龙芯", "石墨", "朱砂", "黄页", "高速缓存",
    # places jieba tags as names or not at all
    "唐山", "黄石", "许昌", "石家庄", "秦皇岛", "余姚", "余杭", "吕梁", "龙岩", "邵阳", "白银",
    "武进", "徐汇", "杨浦", "石景山", "吴江", "龙岗", "潘家园",
}
VERB_TAGS = ("v", "d", "p", "c", "u", "r")
COMMON_FREQ, WORD_FREQ, PLACE_FREQ = 100, 20, 5

_dictionary_lock = threading.Lock()
_dictionary: tuple[dict[str, int], dict[str, str]] | None = None


def _jieba_dictionary() -> tuple[dict[str, int], dict[str, str]]:
    """jieba's word frequencies and part-of-speech tags, loaded once (about 1 s)."""
    global _dictionary
    with _dictionary_lock:
        if _dictionary is None:
            import jieba
            import jieba.posseg

            jieba.dt.initialize()
            _dictionary = (jieba.dt.FREQ, jieba.posseg.dt.word_tag_tab)
    return _dictionary


def _is_word(word: str, min_freq: int, tags: tuple[str, ...] = (), places: bool = True) -> bool:
    """Whether `word` is a dictionary word (not a name) at least `min_freq` common.

    With `tags`, only words with one of these parts of speech count. Place names (ns) count
    from PLACE_FREQ on, unless `places` is false.
    """
    freq, tag_of = _jieba_dictionary()
    tag = tag_of.get(word, "")
    if tag == "ns" and places and not tags:
        min_freq = min(min_freq, PLACE_FREQ)  # places: 江苏区经理, 武汉同事
    if freq.get(word, 0) < min_freq or not tag or tag.startswith("nr"):
        return False
    return not tags or tag in tags


def _in_dictionary(word: str, min_freq: int) -> bool:
    """Whether `word` is in jieba's dictionary at least `min_freq` common, names included."""
    return _jieba_dictionary()[0].get(word, 0) >= min_freq


def _surname_at(text: str, position: int) -> str | None:
    """The common surname (compound first) starting at `position`, if any."""
    for compound in COMPOUND_SURNAMES:
        if text.startswith(compound, position):
            return compound
    char = text[position : position + 1]
    return char if char in SURNAMES else None


def _chinese_names(text: str) -> Iterator[tuple[int, int]]:
    """Chinese names before a title or reporting verb, or after a cue."""
    for match in ZH_AFTER_NAME.finditer(text):
        honorific = match.group() in ZH_HONORIFICS  # no place is a 先生: 于洋先生
        start = _name_ending_at(text, match.start(), places=not honorific)
        if start is not None:
            yield start, match.start()
    for match in [*ZH_CUE.finditer(text), *ZH_RARE_SURNAME.finditer(text)]:
        end = _name_starting_at(text, match.end())
        if end is not None:
            yield match.end(), end


def _name_ending_at(text: str, end: int, places: bool = True) -> int | None:
    """Start of a plausible name ending at `end` (3-4 characters preferred over 2-3)."""
    starts = []
    for start in (end - 4, end - 3, end - 2):
        surname = _surname_at(text, start) if start >= 0 else None
        if surname and 1 <= end - start - len(surname) <= 2:
            starts.append(start)
    for start in starts:
        shortest = start == starts[-1]
        if text[start] in ZH_FUNCTION and not shortest:
            continue  # 向张伟先生: 向 is the preposition, not a surname
        if start > 0 and _in_dictionary(text[start - 1 : start + 1], WORD_FREQ):
            continue  # 江苏区经理: 苏 ends the word 江苏; 黄石工厂反映: 石 ends 黄石
        if _plausible(text[start:end], places):
            return start
    return None


def _name_starting_at(text: str, start: int) -> int | None:
    """End of a plausible name starting at `start` (longer preferred unless a word follows)."""
    surname = _surname_at(text, start)
    if not surname:
        return None
    for given in (2, 1):
        end = start + len(surname) + given
        last, pair = text[end - 1 : end], text[end - 1 : end + 1]
        if given == 2 and last in ZH_STOP_AFTER or len(pair) == 2 and _is_word(pair, COMMON_FREQ):
            continue  # 刘洋确认: 确 starts the next word; 客户方反馈: 反 starts 反馈
        if _plausible(text[start:end]):
            return end
    return None


def _plausible(name: str, places: bool = True) -> bool:
    """Whether a surname-led run of Han characters can be a person's name.

    Not when it is an ordinary word, starts with one (江苏区), or its given name is a verb or
    function word (方反馈); with `places`, place names are ordinary words too.
    """
    surname = _surname_at(name, 0) or ""
    given = name[len(surname) :]
    if not 1 <= len(given) <= 2 or not all(IS_HAN.match(ch) for ch in name):
        return False
    if name in NOT_ZH_NAMES or given[0] in ZH_TITLE_START and re.match(ZH_TITLE, given):
        return False
    prefix = name[:2] if len(surname) == 1 and len(given) == 2 else ""
    if _is_word(prefix, COMMON_FREQ, places=places) or _is_word(name, COMMON_FREQ, places=places):
        return False
    return not (len(given) == 2 and _is_word(given, COMMON_FREQ, VERB_TAGS))


# ---------------------------------------------------------------- names: English

UPPER, LOWER = "A-ZÀ-ÖØ-Þ", "a-zß-öø-ÿ"
EN_WORD = (
    rf"(?:O'|Mc|Mac|De|Di|Le|La|Van|Von)?[{UPPER}][{LOWER}]+(?:-[{UPPER}][{LOWER}]+)?"
    rf"(?![{UPPER}{LOWER}0-9])"
)
EN_NAME = rf"{EN_WORD}(?:[ \u00a0]{EN_WORD}){{0,2}}"
EN_NAMES = rf"{EN_NAME}(?:[ \u00a0]*(?:and|&)[ \u00a0]*{EN_NAME})*"  # cc Anna Schmidt and Tom
EN_TITLE = r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof)\.?[ \u00a0]+"
EN_CUE = (
    r"(?:\b(?i:contact(?: person)?|call|ask(?:ed)?|phoned|rang|spoke (?:with|to)|speak (?:with|to)"
    r"|talk(?:ed)? (?:with|to)|reach(?:ed)?|ping(?:ed)?|cc|bcc|e-?mail(?:ed)?|tell|told"
    r"|inform(?:ed)?|notif(?:y|ied)|assigned to|escalated to|forwarded to|handed (?:over )?to"
    r"|reported by|raised by|opened by|submitted by|requested by|approved by|confirmed by"
    r"|name|full name|requester|requestor|reporter|caller|customer|user|colleague|employee"
    r"|attn|attention|(?:discussed|checked|confirmed|met|worked|chatted|followed up) with"
    r"|owner is|(?:from|to|sender|recipient)(?=[ \u00a0]*:))\b"
    r"|联系人|联系|客户|用户|报修人|来电人|申请人|姓名|同事|致电)"
    r"[ \u00a0]*(?:是|为)?[ \u00a0]*[:：,]?[ \u00a0]*"
)
EN_CALLED = re.compile(r"\b(?i:called)[ \u00a0]+")
EN_GREETING = r"\b(?i:hi|hello|hey|dear|morning|good (?:morning|afternoon|evening))[ \u00a0,]+"
EN_SIGNOFF = (
    r"\b(?i:(?:best|kind|warm|many)[ \u00a0]+(?:regards|wishes|thanks)|regards|thanks|thank you"
    r"|thx|cheers|sincerely|best|br)(?:[ \t]*[,，!][ \t]*\n?|[ \t]*\n)[ \t]*"
)
EN_REPORTING_VERB = (
    r"[ \u00a0]+(?:reported|reports|says|said|asked|asks|called|emailed|wrote|writes|mentioned"
    r"|confirmed|complained|noticed|requested|replied|phoned)\b"
)
EN_CONTEXTS = [
    re.compile(f"{EN_TITLE}({EN_NAME})"),
    re.compile(f"{EN_CUE}({EN_NAMES})"),
    re.compile(
        rf"{EN_GREETING}({EN_NAME}(?:[ \u00a0]*(?:,|and|&)[ \u00a0]*{EN_NAME})*)"
        r"(?=[ \u00a0]*(?:[,，!:;\n]|$))"
    ),
    re.compile(rf"{EN_SIGNOFF}({EN_NAME})(?=[ \t]*(?:[\n.,;!(<|]|$))"),
    re.compile(rf"(?<![\w.'-])({EN_NAME}){EN_REPORTING_VERB}"),
]
# Capitalised words that are not people: products, companies, tech words, pronouns, dates.
NOT_EN_NAMES = set(
    """
    windows outlook office excel word teams microsoft cisco dell lenovo apple google chrome edge
    firefox safari zoom slack skype webex novaerp securelink laserjet officejet deskjet macbook
    mac linux ubuntu android iphone ipad surface thinkpad optiplex onedrive sharepoint azure
    intune defender bitlocker exchange online active directory powershell terminal acrobat
    adobe reader oracle citrix vmware jira confluence github gitlab salesforce okta huawei
    xiaomi samsung logitech lacie mcafee norton kaspersky symantec sophos fortinet fortigate
    palo alto juniper netgear ubiquiti aruba brother canon epson xerox ricoh kyocera lexmark
    update updates support team service services desk helpdesk help admin administrator
    account accounts control user users customer customers printer printers network server
    servers system settings security center manager device devices start menu file files
    explorer panel remote desktop assistance event viewer task scheduler process monitor
    registry editor store portal client clients agent web app apps mail calendar contacts
    people drive share folder group groups policy profile domain finance sales marketing
    legal operations engineering department office hr it the a an all everyone anyone someone
    somebody nobody there here this that these those he she we they you i it his her their
    our your my me us them who what when where why how please thanks thank hello hi dear hey
    regards best kind warm many cheers sincerely yes no ok okay sir madam team error warning
    version release build patch driver firmware ticket case issue incident problem request
    today tomorrow yesterday monday tuesday wednesday thursday friday saturday sunday january
    february march april may june july august september october november december morning
    afternoon evening night week weekend after before since until once then also just still
    new old main head global internal external public private general test guest default
    vpn wifi bluetooth ethernet router switch firewall proxy cloud backup storage disk
    laptop desktop computer screen monitor keyboard mouse camera headset dock phone mobile
    password login sign reset access admin license subscription invoice order payment
    china beijing shanghai berlin london paris tokyo mr mrs ms miss mx dr prof monitoring bot
    automation accounting procurement facilities management purchasing payroll reception
    logistics warehouse compliance audit board executive headquarters branch cortana siri
    alexa copilot chatgpt jenkins and
    """.split()
)


def _english_names(text: str) -> Iterator[tuple[int, int]]:
    """English names in context: titles, cues, greetings, sign-offs, reporting verbs."""
    for pattern in EN_CONTEXTS:
        for match in pattern.finditer(text):
            yield from _name_words(text, *match.span(1))
    for match in EN_CALLED.finditer(text):
        if _called_a_person(text, match.start()):
            name = re.match(EN_NAME, text[match.end() :])
            if name:
                yield from _name_words(text, match.end(), match.end() + name.end())


def _name_words(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Runs of name words in the span; words that are not names (Windows, Team) split them."""
    run: list[re.Match[str]] = []
    for word in [*re.finditer(r"[^\s,&]+", text[start:end]), None]:
        if word is not None and word.group().lower() not in NOT_EN_NAMES:
            run.append(word)
        elif run:
            yield start + run[0].start(), start + run[-1].end()
            run = []


# "a tool called Process Monitor" names a thing; "the user called Michael Brown" a person.
CALLED_THING = set(
    """a an the is are was were be been being something tool app application file folder program
    setting option feature service process printer share drive group script task policy profile
    certificate item one account server database table field button tab menu window page site
    module plugin extension package library function device computer machine queue job rule
    template macro report view list channel project product company vendor utility network
    """.split()
)


def _called_a_person(text: str, position: int) -> bool:
    previous = re.findall(r"[A-Za-z]+", text[max(0, position - 30) : position])
    return not previous or previous[-1].lower() not in CALLED_THING
