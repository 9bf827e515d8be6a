"""Small helpers every layer may use: atomic files, the console, escaping, redaction, units, name
suggestions, renamed names, signal handling, reading an input file, generated command signatures.

May import: the standard library, third-party libraries, ``orchbench.errors`` and each other; nothing else of
orchbench.
"""
