"""A Sphinx extension of the book's (loaded by _config.yml): every page lists each of its scripts once.

Sphinx 7.4 (the 7.x that Jupyter Book 1 requires) lists an inline script that an extension adds after the HTML
builder has started twice, once with the file name None and once with '' (Sphinx's application.add_js_file and
StandaloneHTMLBuilder.prepare_writing). For sphinx-thebe's `const THEBE_JS_URL = ...` that is a SyntaxError in the
browser's console on every page ("Identifier 'THEBE_JS_URL' has already been declared"); tests/test_browser.py
checks the console.
"""


def _drop_repeated_scripts(app, pagename, templatename, context, doctree):
    seen, scripts = set(), []
    for js in context.get("script_files", []):
        key = (js.filename or "", js.priority, tuple(sorted(js.attributes.items())))
        if key not in seen:
            seen.add(key)
            scripts.append(js)
    context["script_files"] = scripts  # a new list: the builder's own is left as it was


def setup(app):
    # priority 900: after the handlers (default 500) that add a page's own scripts, such as MathJax's
    app.connect("html-page-context", _drop_repeated_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
