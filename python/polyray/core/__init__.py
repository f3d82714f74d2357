"""The CoreWorker for Python: submits tasks, executes tasks, owns objects.

Every driver and worker process has exactly one CoreWorker (see
``core_worker.CoreWorker``). Imports run one way: api -> core -> protocol/store.
"""
