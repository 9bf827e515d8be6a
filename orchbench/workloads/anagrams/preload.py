"""Imported by a process pool's fork server (see ``Workload.worker_preload``): builds the anagram index once,
for every worker it forks."""

from __future__ import annotations

import signal

from orchbench.workloads.anagrams.dictionary import shared_index

# Ctrl-C is the run's to handle (it stops the pool); the fork server ignores it, but only once its imports are
# done, and a KeyboardInterrupt here would print a traceback.
_previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
try:
    shared_index()
finally:
    signal.signal(signal.SIGINT, _previous)
