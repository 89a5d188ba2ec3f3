"""llmtrace's Streamlit dashboard over the store: `llmtrace ui --store URL`.

`app.py` is the entry script (`streamlit run dashboard/app.py`); the pages live in `pages/` and
are listed in `_nav.PAGES`. Pages read the store only through the `Store` API (`_store`), so the
dashboard works on a database file and against an llmtrace server. See docs/dashboard.md.
"""

__all__: list[str] = []
