"""Imported by a process pool's fork server (see ``Workload.worker_preload``): builds the anagram index once,
for every worker it forks."""

from orchbench.workloads.anagrams.dictionary import shared_index

shared_index()
