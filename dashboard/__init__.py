"""llmtrace's Streamlit dashboard over the store.

The app lands with the dashboard issue; this package only reserves the import name in the
distribution so that the layout of the design card holds from the first release.
"""

__all__: list[str] = []
