"""The dashboard's entry script: `streamlit run dashboard/app.py` (or `llmtrace ui`).

The pages are listed in `dashboard._nav.PAGES`; this script only configures the app, builds the
navigation from that list, shows which store is open, and runs the selected page.
"""

from __future__ import annotations

import streamlit as st

from dashboard import _store
from dashboard._nav import PAGES


def _sidebar() -> None:
    url = _store.store_url()
    with st.sidebar:
        st.caption("Store")
        st.code(_store.display_url(url) if url else "(none configured)", language=None)
        if st.button("Refresh", icon=":material/refresh:", help="Query the store again"):
            _store.refresh()


def main() -> None:
    """Configure the app and run the selected page."""
    st.set_page_config(page_title="llmtrace", page_icon=":material/timeline:", layout="wide")
    sections: dict[str, list[st.Page]] = {}
    missing = [spec.file for spec in PAGES if not spec.path.is_file()]
    for spec in PAGES:
        if spec.file in missing:
            continue  # a broken install must not take the other pages down
        sections.setdefault(spec.section, []).append(
            st.Page(
                spec.path,
                title=spec.title,
                icon=spec.icon,
                url_path=spec.url_path,
                default=spec.default,
                visibility="hidden" if spec.hidden else "visible",
            )
        )
    page = st.navigation(sections)
    _sidebar()
    if missing:
        st.sidebar.warning(f"Page files missing from `dashboard/pages/`: {', '.join(missing)}")
    page.run()


main()
