"""Text of the embedded default preference dataset (see :mod:`rlhf_text.default_data`).

The dialogue templates live in Python modules rather than data files so that they ship with
the package through ``packages.find`` alone (no ``package-data`` entry) and import without
any file I/O; the rows themselves are generated from them, deterministically, on first use.
"""
