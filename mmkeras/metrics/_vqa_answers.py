"""The answer rules of the official VQA evaluation, `vqaEval.py` in
GT-Vision-Lab/VQA's `PythonEvaluationTools/vqaEvaluation` (master, commit
a013f00 of 2021), quirks included: they define the published numbers.

For each question, `evaluate` does:

1. every answer, human or predicted, has its newlines and tabs replaced by
   spaces and is stripped;
2. only if the 10 human answers are not all the same are they and the
   prediction normalised (`processPunctuation`, then
   `processDigitArticle`). With unanimous humans nothing else happens, so
   case and punctuation count: "TENNIS RACKET!" scores 0 against ten
   "tennis racket", and "dont know" 0 against ten "don't know";
3. each of the 21 marks of `_PUNCTUATION` (not ".", ":" or "'") is
   deleted if, in the original answer, it touches a space or a digit-
   comma-digit occurs; else it is replaced by a space;
4. periods not followed by a digit are deleted (the lookbehind is
   mistyped as `(?!<=\\d)`, which checks nothing: "5." loses its period,
   "1.5" keeps it; `re.UNICODE` is passed as the count, so at most 32);
5. lowercase, split on whitespace, number words zero to ten and "none"
   become digits, "a", "an" and "the" are dropped, then words of the
   contractions list get their apostrophe ("dont" -> "don't", a straight
   U+0027 since the 2016 commit 458a8b2; its capitalised keys never
   match).

The script runs on Python 2, so `\\d` is ASCII only and lowercasing is per
character (no final sigma, "İ" -> "i"); characters whose Unicode data
changed since Python 2.7's Unicode 5.2 can still differ.
"""

import re

_PUNCTUATION = (
    ";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-",
    ">", "<", "@", "`", ",", "?", "!",
)  # fmt: skip
_PERIOD = re.compile(r"(?!<=\d)(\.)(?!\d)", re.ASCII)
_COMMA_BETWEEN_DIGITS = re.compile(r"(\d)(\,)(\d)", re.ASCII)
# `sub`'s count, as the official call passes `re.UNICODE` there.
_MAX_PERIODS = 32
_NUMBERS = {
    "none": "0", "zero": "0", "one": "1", "two": "2", "three": "3",
    "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8",
    "nine": "9", "ten": "10",
}  # fmt: skip
_ARTICLES = ("a", "an", "the")
# "written: normalised", as in vqaEval.py, its oddities included
# ("somebody'd" becomes "somebodyd").
_CONTRACTIONS = dict(
    pair.split(":")
    for pair in """
aint:ain't arent:aren't cant:can't couldve:could've couldnt:couldn't
couldn'tve:couldn't've couldnt've:couldn't've didnt:didn't doesnt:doesn't
dont:don't hadnt:hadn't hadnt've:hadn't've hadn'tve:hadn't've hasnt:hasn't
havent:haven't hed:he'd hed've:he'd've he'dve:he'd've hes:he's howd:how'd
howll:how'll hows:how's Id've:I'd've I'dve:I'd've Im:I'm Ive:I've isnt:isn't
itd:it'd itd've:it'd've it'dve:it'd've itll:it'll let's:let's maam:ma'am
mightnt:mightn't mightnt've:mightn't've mightn'tve:mightn't've
mightve:might've mustnt:mustn't mustve:must've neednt:needn't notve:not've
oclock:o'clock oughtnt:oughtn't ow's'at:'ow's'at 'ows'at:'ow's'at
'ow'sat:'ow's'at shant:shan't shed've:she'd've she'dve:she'd've she's:she's
shouldve:should've shouldnt:shouldn't shouldnt've:shouldn't've
shouldn'tve:shouldn't've somebody'd:somebodyd somebodyd've:somebody'd've
somebody'dve:somebody'd've somebodyll:somebody'll somebodys:somebody's
someoned:someone'd someoned've:someone'd've someone'dve:someone'd've
someonell:someone'll someones:someone's somethingd:something'd
somethingd've:something'd've something'dve:something'd've
somethingll:something'll thats:that's thered:there'd thered've:there'd've
there'dve:there'd've therere:there're theres:there's theyd:they'd
theyd've:they'd've they'dve:they'd've theyll:they'll theyre:they're
theyve:they've twas:'twas wasnt:wasn't wed've:we'd've we'dve:we'd've
weve:we've werent:weren't whatll:what'll whatre:what're whats:what's
whatve:what've whens:when's whered:where'd wheres:where's whereve:where've
whod:who'd whod've:who'd've who'dve:who'd've wholl:who'll whos:who's
whove:who've whyll:why'll whyre:why're whys:why's wont:won't
wouldve:would've wouldnt:wouldn't wouldnt've:wouldn't've
wouldn'tve:wouldn't've yall:y'all yall'll:y'all'll y'allll:y'all'll
yall'd've:y'all'd've y'alld've:y'all'd've y'all'dve:y'all'd've youd:you'd
youd've:you'd've you'dve:you'd've youll:you'll youre:you're youve:you've
""".split()
)
# The lenient rules' extra step: typographic apostrophes become U+0027.
_APOSTROPHES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u02bc": "'"})
NORMALIZATIONS = ("official", "lenient")


def compared(answers, prediction, normalization="official"):
    """`(answers, prediction)` as `evaluate` compares them.

    "official" follows `vqaEval.py` (see the module docstring);
    "lenient" always normalises both sides, after turning typographic
    apostrophes into straight ones.
    """
    answers = [_clean(answer) for answer in answers]
    prediction = _clean(prediction)
    if normalization == "lenient":
        answers = [answer.translate(_APOSTROPHES) for answer in answers]
        prediction = prediction.translate(_APOSTROPHES)
    elif len(set(answers)) == 1:
        return answers, prediction
    return [normalize(answer) for answer in answers], normalize(prediction)


def normalize(answer):
    """`processDigitArticle(processPunctuation(answer))`."""
    return digits_and_articles(punctuation(answer))


def punctuation(text):
    """`processPunctuation`."""
    out = text
    delete = _COMMA_BETWEEN_DIGITS.search(text) is not None
    for mark in _PUNCTUATION:
        if delete or mark + " " in text or " " + mark in text:
            out = out.replace(mark, "")
        else:
            out = out.replace(mark, " ")
    return _PERIOD.sub("", out, count=_MAX_PERIODS)


def digits_and_articles(text):
    """`processDigitArticle`."""
    words = [_NUMBERS.get(word, word) for word in _lower(text).split()]
    words = [word for word in words if word not in _ARTICLES]
    return " ".join(_CONTRACTIONS.get(word, word) for word in words)


def _clean(answer):
    return answer.replace("\n", " ").replace("\t", " ").strip()


def _lower(text):
    # Python 2's per-character mapping: Python 3 lowercases a final
    # sigma by context and "İ" to two characters.
    if text.isascii():
        return text.lower()
    return "".join("i" if c == "\u0130" else c.lower() for c in text)
