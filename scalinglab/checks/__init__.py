"""Self-checks for the labs: the same questions students run in the notebook and instructors grade.

A lab's module (scalinglab/checks/labNN.py) defines QUESTIONS: question id -> Question. Each
Question grades one thing in the notebook (a function or variable by name, or a written answer)
with Cases; a Case raises AssertionError with a hint when it fails. Instructors add hidden cases
(tests/grading/labNN_hidden.py, HIDDEN: question id -> [Case]) that students never see.

In a notebook:
    from scalinglab.checks.lab00 import check
    check("q1", fit_power_law)
prints a pass, or stops the cell with a one-line hint (no traceback).
"""
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

PLACEHOLDER = "YOUR ANSWER HERE"


@dataclass(frozen=True)
class Case:
    description: str
    test: Callable[[Any], None]  # raises AssertionError("hint") when the answer is wrong
    points: float = 1.0


@dataclass(frozen=True)
class Question:
    title: str
    target: str               # the notebook name graded: a function or variable, or for written answers the answer id
    cases: tuple
    written: bool = False     # a written answer: its text is taken from the notebook's marked markdown cell

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


def run_question(qid, question: Question, answer, hidden=()) -> Outcome:
    """Run every case (the question's, then hidden ones) on `answer`; a case that raises scores 0."""
    cases = tuple(question.cases) + tuple(hidden)
    outcome = Outcome(qid, 0.0, sum(c.points for c in cases))
    for case in cases:
        try:
            case.test(answer)
        except AssertionError as e:
            outcome.messages.append(f"{case.description}: {e or 'wrong answer'}")
        except NotImplementedError:
            outcome.messages.append(f"{case.description}: not implemented yet")
        except Exception as e:  # the student's code crashed: say where, briefly
            where = traceback.extract_tb(e.__traceback__)[-1]
            outcome.messages.append(f"{case.description}: {type(e).__name__}: {e} (line {where.lineno})")
        else:
            outcome.points += case.points
    return outcome


class CheckFailed(Exception):
    """A failed self-check. IPython shows only this message, not a traceback."""

    def _render_traceback_(self):
        return [str(self)]


def make_check(questions):
    """The notebook's `check(qid, answer)` for one lab's questions."""
    def check(qid, answer):
        if qid not in questions:
            raise CheckFailed(f"unknown question {qid!r}: this lab has {', '.join(questions)}")
        outcome = run_question(qid, questions[qid], answer)
        if not outcome.passed:
            hints = "\n  ".join(outcome.messages)
            raise CheckFailed(f"✗ {qid} ({questions[qid].title}): {outcome.points:g}/{outcome.max_points:g}\n  {hints}")
        print(f"✓ {qid} ({questions[qid].title}): all {len(questions[qid].cases)} checks pass")
    return check


def written_answer(min_words, must_mention=()):
    """Cases for a written answer: it was written (not the placeholder), long enough, on topic.

    A machine can only check that an answer exists and touches the key ideas; the instructor
    reads it. Grading feedback says so.
    """
    def answered(text):
        assert text and PLACEHOLDER not in text, "write your answer in the marked cell"

    def long_enough(text):
        words = len(text.split())
        assert words >= min_words, f"{words} words; explain in at least {min_words}"

    cases = [Case("answered", answered), Case(f"at least {min_words} words", long_enough)]
    for options in must_mention:
        options = (options,) if isinstance(options, str) else tuple(options)

        def mentions(text, options=options):
            assert any(o.lower() in text.lower() for o in options), f"discuss {' / '.join(options)}"
        cases.append(Case(f"mentions {options[0]}", mentions))
    return tuple(cases)


# ---------------------------------------------------------------- helpers for writing cases

def params(result):
    """The parameters a fit returned: a dict, or an object with .params (a scalinglab Fit)."""
    return getattr(result, "params", result)


def rng(seed):
    return np.random.default_rng(seed)


def relative_error(value, target):
    return abs(value - target) / abs(target)


def finite_float(value, what):
    assert np.ndim(value) == 0 and np.isfinite(value), f"{what} should be one finite number, got {value!r}"
    return float(value)


def log_rss(x, y, p):
    """Sum of squared log residuals of y = E + B x^-beta: what a fit in log space minimises."""
    return float(np.sum((np.log(p["E"] + p["B"] * np.asarray(x, dtype=float) ** -p["beta"]) - np.log(y)) ** 2))
