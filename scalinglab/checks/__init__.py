"""Self-checks for the labs: the questions students run in the notebook and instructors grade.

A lab's module (scalinglab/checks/labNN.py) defines QUESTIONS: question id -> Question. A Question
grades one name of the notebook, a function or a written answer, with Cases. A case is data plus a
verdict:
  calls    the keyword arguments of each call of the graded function: plain data (numbers, lists,
           strings, dicts), never code;
  verdict  verdict(outputs) raises AssertionError("hint") when the outputs are wrong.
The question's `call(fn, **kwargs)` makes one call and turns its result into plain data.

Running the calls (`collect`) and judging what they returned (`judge`) are separate steps. In a
notebook, `check("q2", fit_power_law)` does both at once. When grading, `collect` runs inside the
sandbox next to the student's code, and `judge` runs in the grader, which never runs student code;
hidden cases (tests/grading/labNN_hidden.py) send only their calls into the sandbox. A verdict
compares with stored values or properties, never with an implementation a student could import.
"""
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

PLACEHOLDER = "YOUR ANSWER HERE"
MAX_ELEMENTS = 100_000  # the most numbers one output may hold


@dataclass(frozen=True)
class Case:
    description: str
    calls: tuple                  # one dict of keyword arguments (plain data) per call; () for a written answer
    verdict: Callable[[Any], None]  # verdict(outputs) raises AssertionError("hint"); outputs[i] answers calls[i]
    points: float = 1.0


@dataclass(frozen=True)
class Question:
    title: str
    target: str               # the notebook name graded: a function, or for written answers the answer id
    cases: tuple
    call: Callable = None     # call(fn, **kwargs) -> plain data; None for a written answer

    @property
    def written(self):
        return self.call is None

    @property
    def points(self):
        return sum(case.points for case in self.cases)


@dataclass
class Outcome:
    question: str
    points: float
    max_points: float
    messages: list = field(default_factory=list)

    @property
    def passed(self):
        return self.points == self.max_points


# ---------------------------------------------------------------- collect: runs next to the student's code

def plain(value, depth=0):
    """value as JSON-ready plain data (numbers, strings, lists, str-keyed dicts); raises TypeError otherwise."""
    if depth > 8:
        raise TypeError("the result is nested too deeply")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        if value.size > MAX_ELEMENTS:
            raise TypeError(f"the result holds {value.size:,} numbers, more than a check needs")
        return value.tolist()
    if isinstance(value, (list, tuple)):
        if len(value) > MAX_ELEMENTS:
            raise TypeError(f"the result holds {len(value):,} items, more than a check needs")
        return [plain(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v, depth + 1) for k, v in value.items()}
    raise TypeError(f"the result is a {type(value).__name__}, which a check cannot read: return numbers")


def error_message(e):
    if isinstance(e, NotImplementedError):
        return "not implemented yet"
    if isinstance(e, AssertionError):
        return str(e) or "wrong answer"
    frames = traceback.extract_tb(e.__traceback__)
    where = f" (line {frames[-1].lineno})" if frames else ""
    return f"{type(e).__name__}: {str(e)[:300]}{where}"


def run_call(question, fn, kwargs):
    """One call of the graded function, as {'value': plain data} or {'error': message}."""
    try:
        return {"value": plain(question.call(fn, **kwargs))}
    except Exception as e:  # the student's code failed: the verdict reports it
        return {"error": error_message(e)}


def collect(question, calls_per_case, fn):
    """Run every call of every case; one list of results per case."""
    return [[run_call(question, fn, kwargs) for kwargs in calls] for calls in calls_per_case]


# ---------------------------------------------------------------- judge: never runs student code

def judge(qid, question, cases, outputs) -> Outcome:
    """Score outputs (as collect made them, or for a written answer its text) case by case."""
    outcome = Outcome(qid, 0.0, sum(c.points for c in cases))
    for number, case in enumerate(cases):
        try:
            if question.written:
                values = outputs
            else:
                results = outputs[number]
                if len(results) != len(case.calls):
                    raise ValueError("wrong number of results")
                failed = [r["error"] for r in results if "error" in r]
                if failed:
                    outcome.messages.append(f"{case.description}: {failed[0]}")
                    continue
                values = [r["value"] for r in results]
            case.verdict(values)
        except AssertionError as e:
            outcome.messages.append(f"{case.description}: {e or 'wrong answer'}")
        except Exception:  # forged or malformed outputs: no points, and never a crash
            outcome.messages.append(f"{case.description}: the results could not be read")
        else:
            outcome.points += case.points
    return outcome


# ---------------------------------------------------------------- in the notebook

class CheckFailed(Exception):
    """A failed self-check. IPython shows only this message, not a traceback."""

    def _render_traceback_(self):
        return [str(self)]


def make_check(questions):
    """The notebook's `check(qid, answer)` for one lab's questions: its public cases only."""
    def check(qid, answer):
        if qid not in questions:
            raise CheckFailed(f"unknown question {qid!r}: this lab has {', '.join(questions)}")
        question = questions[qid]
        outputs = answer if question.written else collect(question, [c.calls for c in question.cases], answer)
        outcome = judge(qid, question, question.cases, outputs)
        if not outcome.passed:
            hints = "\n  ".join(outcome.messages)
            raise CheckFailed(f"✗ {qid} ({question.title}): {outcome.points:g}/{outcome.max_points:g}\n  {hints}")
        print(f"✓ {qid} ({question.title}): all {len(question.cases)} checks pass")
    return check


def written_answer(min_words, must_mention=()):
    """Cases for a written answer: it was written (not the placeholder), long enough, on topic.

    A machine can only check that an answer exists and touches the key ideas; the instructor
    reads it. Grading feedback says so.
    """
    def answered(text):
        assert isinstance(text, str) and text and PLACEHOLDER not in text, "write your answer in the marked cell"

    def long_enough(text):
        words = len(text.split())
        assert words >= min_words, f"{words} words; explain in at least {min_words}"

    cases = [Case("answered", (), answered), Case(f"at least {min_words} words", (), long_enough)]
    for options in must_mention:
        options = (options,) if isinstance(options, str) else tuple(options)

        def mentions(text, options=options):
            assert any(o.lower() in text.lower() for o in options), f"discuss {' / '.join(options)}"
        cases.append(Case(f"mentions {options[0]}", (), mentions))
    return tuple(cases)


# ---------------------------------------------------------------- helpers for writing cases

def answer_case(name, answer, kwargs, compare, points=1):
    """A hidden case whose expected value is the answer implementation's on the same inputs (`lists` aside);
    compare(output, expected, name) raises AssertionError when they differ."""
    call = {k: v for k, v in kwargs.items() if k != "lists"}
    return Case(name, (kwargs,), lambda outputs: compare(outputs[0], answer(**call), name), points=points)


def params(result, names):
    """The named parameters a fit returned (a dict, or an object with .params such as a scalinglab Fit)."""
    p = getattr(result, "params", result)
    missing = [n for n in names if not isinstance(p, dict) or n not in p]
    assert not missing, f"return a dict with the keys {', '.join(names)} (missing {', '.join(missing)})"
    return {n: float(p[n]) for n in names}


def rng(seed):
    return np.random.default_rng(seed)


def relative_error(value, target):
    return abs(value - target) / abs(target)


def finite_float(value, what):
    assert isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value), (
        f"{what} should be one finite number, got {value!r}")
    return float(value)


def log_rss(x, y, p):
    """Sum of squared log residuals of y = E + B x^-beta: what a fit in log space minimises."""
    return float(np.sum((np.log(p["E"] + p["B"] * np.asarray(x, dtype=float) ** -p["beta"]) - np.log(y)) ** 2))
