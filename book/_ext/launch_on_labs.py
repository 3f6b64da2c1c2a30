"""Launch buttons (Binder, Colab) on the lab pages only.

The chapters are MyST Markdown notebooks: Colab cannot open them, and a reader has nothing to run
there. So the theme's launch-button group is kept on pages under labs/ and dropped everywhere else.
"""


def drop_launch_buttons(app, pagename, templatename, context, doctree):
    if not pagename.startswith("labs/") and "header_buttons" in context:
        context["header_buttons"] = [b for b in context["header_buttons"] if b.get("label") != "launch-buttons"]


def setup(app):
    # priority 900: after sphinx-book-theme has added its buttons (default priority 500)
    app.connect("html-page-context", drop_launch_buttons, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
