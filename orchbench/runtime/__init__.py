"""What a running item uses, behind the kit's Workload methods: the worker's resources
(``worker_resource``), the resource cache, the attempt slots of a declared ``capacity``, deadlines and the event
loop a worker keeps.

May import: ``orchbench.errors``, ``orchbench.support`` and each other.
"""
