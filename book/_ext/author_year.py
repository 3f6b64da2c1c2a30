"""Author-year labels in the reference list, the style of the citations in the text.

sphinxcontrib-bibtex labels entries with numbers ([1], [2], ...) unless the pybtex style says
otherwise; this registers a style 'author_year' (pybtex's plain style, sorted by author, with
labels such as "Kaplan et al. 2020"), selected by bibtex_default_style in _config.yml.
"""
from collections import Counter

from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle


def surname(person):
    """The surname as plain text: Gy{\\"o}rfi -> Györfi."""
    return Text.from_latex(" ".join(person.prelast_names + person.last_names)).render_as("text")


class AuthorYearLabels(BaseLabelStyle):
    def format_labels(self, sorted_entries):
        entries = list(sorted_entries)
        labels = []
        for entry in entries:
            authors = entry.persons.get("author") or entry.persons.get("editor") or []
            names = ([surname(a) for a in authors] if len(authors) <= 2 else [surname(authors[0]) + " et al."])
            labels.append(f"{' & '.join(names) or entry.key} {entry.fields.get('year', '')}".strip())
        # two works with the same authors and year get 2020a, 2020b, as in the text's citations
        repeated, seen = Counter(labels), Counter()
        for label in labels:
            if repeated[label] > 1:
                seen[label] += 1
                label += "abcdefghij"[seen[label] - 1]
            yield label


class AuthorYearStyle(PlainStyle):
    default_label_style = "author_year"


register_plugin("pybtex.style.labels", "author_year", AuthorYearLabels)
register_plugin("pybtex.style.formatting", "author_year", AuthorYearStyle)


def setup(app):
    return {"parallel_read_safe": True, "parallel_write_safe": True}
